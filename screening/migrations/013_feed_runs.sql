-- Each delivery's facts, as the feed-runs topic holds them (the last one per run id): what a
-- department's file or push read, accepted, rejected by reason, and counted as duplicates, and
-- whether the run completed. The reports' delivery figures are read here, so they are the same on
-- every machine and include the push server's deliveries.
CREATE TABLE feed_runs (
  run_id TEXT PRIMARY KEY,
  dept TEXT NOT NULL,
  month TEXT NOT NULL,
  source TEXT NOT NULL,
  file TEXT,
  encoding TEXT NOT NULL,
  status TEXT NOT NULL,
  started_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  rows_read BIGINT NOT NULL,
  accepted BIGINT NOT NULL,
  duplicates BIGINT NOT NULL,
  rejected BIGINT NOT NULL,
  late BIGINT NOT NULL,
  ownership_conflicts BIGINT NOT NULL
);
CREATE INDEX feed_runs_month ON feed_runs (month, dept);
CREATE TABLE feed_run_counts (
  run_id TEXT NOT NULL,
  kind TEXT NOT NULL,  -- 'rejected' (name: a reason code) or 'event_type' (name: an accepted type)
  name TEXT NOT NULL,
  n BIGINT NOT NULL,
  PRIMARY KEY (run_id, kind, name)
);
