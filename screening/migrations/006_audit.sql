-- Who did what, when, from where: sign-ins (and failed ones), sign-outs, account changes, exports and
-- downloads. Only city operators read it (screening.audit).
CREATE TABLE audit (
  entry_id TEXT PRIMARY KEY,
  at TEXT NOT NULL,
  username TEXT NOT NULL,
  action TEXT NOT NULL,
  target TEXT NOT NULL,
  detail TEXT NOT NULL,
  client TEXT NOT NULL
);
CREATE INDEX audit_at ON audit (at);
