-- One household, one clue: a clue is a household's open case, and every alert (any rule, any
-- department) or other source that concerns the household while it is open joins it as a risk item.
-- ``new_risk``: an item arrived after the visit (the officer and reviewers check it; the clock stays).
-- ``monitored_risk``: the household was a monitoring object when one of its items arrived.
ALTER TABLE clues ADD COLUMN items INTEGER NOT NULL DEFAULT 1;
ALTER TABLE clues ADD COLUMN new_risk INTEGER NOT NULL DEFAULT 0;
ALTER TABLE clues ADD COLUMN monitored_risk INTEGER NOT NULL DEFAULT 0;
-- the householder's name (户主姓名) from the roster: pages and the public notice show it
ALTER TABLE households ADD COLUMN head_name TEXT;
CREATE TABLE risk_items (
  item_id TEXT PRIMARY KEY,
  clue_id TEXT NOT NULL,
  household_id TEXT NOT NULL,
  source TEXT NOT NULL,
  rule_id TEXT,
  rule_version INTEGER,
  catalogue_version TEXT,
  department TEXT,
  title TEXT NOT NULL,
  explanation TEXT NOT NULL,
  risk_label TEXT NOT NULL,
  severity TEXT NOT NULL,
  revision INTEGER NOT NULL,
  hits INTEGER NOT NULL,
  detail_json TEXT NOT NULL,
  item_date TEXT NOT NULL,
  received_at TEXT NOT NULL,
  after_visit INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX risk_items_clue ON risk_items (clue_id);
CREATE INDEX clues_household_state ON clues (household_id, state);
-- the clues of earlier versions each become their own first item
INSERT INTO risk_items (item_id, clue_id, household_id, source, rule_id, rule_version, catalogue_version,
  department, title, explanation, risk_label, severity, revision, hits, detail_json, item_date,
  received_at)
  SELECT clue_id, clue_id, household_id, source, rule_id, rule_version, catalogue_version, department,
    title, explanation, risk_label, severity, revision, hits, detail_json, clue_date, received_at
  FROM clues;
