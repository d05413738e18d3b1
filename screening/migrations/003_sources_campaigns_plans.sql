-- Every way a clue arrives (department warning, household application, cadre screening, campaign
-- visit), screening campaigns, and the assistance plans that follow an inclusion.
ALTER TABLE clues ADD COLUMN campaign_id TEXT;
ALTER TABLE clues ADD COLUMN household_kind TEXT;
ALTER TABLE clues ADD COLUMN form_json TEXT;
ALTER TABLE clues ADD COLUMN authorisation_signed INTEGER NOT NULL DEFAULT 0;
CREATE INDEX clues_campaign ON clues (campaign_id, village_code, state);
CREATE TABLE campaigns (
  campaign_id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  scope TEXT NOT NULL,
  kinds TEXT NOT NULL,
  period_from TEXT NOT NULL,
  period_to TEXT NOT NULL,
  items INTEGER NOT NULL,
  created_by TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE TABLE plans (
  clue_id TEXT PRIMARY KEY,
  household_id TEXT NOT NULL,
  village_code TEXT NOT NULL,
  county_code TEXT NOT NULL,
  included_on TEXT NOT NULL,
  due_by TEXT NOT NULL
);
CREATE INDEX plans_village ON plans (village_code);
CREATE TABLE measures (
  clue_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  measure_group TEXT NOT NULL,
  development INTEGER NOT NULL,
  description TEXT NOT NULL,
  start_on TEXT NOT NULL,
  end_on TEXT,
  recorded_by TEXT NOT NULL,
  recorded_at TEXT NOT NULL,
  PRIMARY KEY (clue_id, seq)
);
