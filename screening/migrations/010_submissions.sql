-- The public application form's rate limit (at most N per client address in any hour) in the store,
-- so that it survives a restart of the web server and is shared by several of them. The address is
-- kept only as a digest, and only for the hour it counts.
CREATE TABLE submissions (
  client TEXT NOT NULL,
  at DOUBLE PRECISION NOT NULL
);
CREATE INDEX submissions_client ON submissions (client, at);
