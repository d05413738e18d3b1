-- The embedded pipeline: how far the store has read each local topic file (the Kafka sink's committed
-- offsets), so that a later load reads only what was appended — the roster's records once each, as
-- the Kafka sink does, never again over the county's decisions. ``head`` fingerprints the file's
-- first line: a file rewritten from scratch is read again from its start.
CREATE TABLE local_positions (
  topic TEXT PRIMARY KEY,
  position BIGINT NOT NULL,
  head TEXT NOT NULL
);
