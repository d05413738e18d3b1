-- The plan's task list (screening/plan/tasks.yaml): each responsible unit's monthly progress report
-- (月调度; unit 'city' for the city units, or a county code), one per task, month and unit (a later
-- report of the same month replaces it). Rectification items (整改) from supervision and unannounced
-- visits (督查暗访): a county's finding, owner and deadline, open until the county reports the result.
CREATE TABLE task_reports (
  task_id INTEGER NOT NULL,
  month TEXT NOT NULL,
  unit TEXT NOT NULL,
  status TEXT NOT NULL,
  progress TEXT NOT NULL,
  reported_by TEXT NOT NULL,
  reported_at TEXT NOT NULL,
  PRIMARY KEY (task_id, month, unit)
);
CREATE TABLE rectifications (
  rect_id TEXT PRIMARY KEY,
  county_code TEXT NOT NULL,
  group_name TEXT NOT NULL,
  source TEXT NOT NULL,
  found_on TEXT NOT NULL,
  finding TEXT NOT NULL,
  owner TEXT NOT NULL,
  deadline TEXT NOT NULL,
  status TEXT NOT NULL,
  result TEXT,
  closed_on TEXT,
  created_by TEXT NOT NULL,
  created_at TEXT NOT NULL,
  closed_by TEXT
);
CREATE INDEX rectifications_county ON rectifications (county_code, status);
