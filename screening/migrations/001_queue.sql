-- The village self-screening queue: clues, their workflow steps (also the outbox to Kafka),
-- the household ledger from the roster topic, accounts and login sessions.
CREATE TABLE clues (
  clue_id TEXT PRIMARY KEY,
  source TEXT NOT NULL,
  household_id TEXT NOT NULL,
  village_code TEXT NOT NULL,
  township_code TEXT NOT NULL,
  county_code TEXT NOT NULL,
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
  clue_date TEXT NOT NULL,
  received_at TEXT NOT NULL,
  visit_by TEXT NOT NULL,
  decide_by TEXT NOT NULL,
  state TEXT NOT NULL,
  steps INTEGER NOT NULL DEFAULT 0,
  proposal TEXT,
  category TEXT,
  outcome TEXT,
  visited_on TEXT,
  concluded_at TEXT,
  notice_from TEXT,
  decided_at TEXT,
  updated_at TEXT NOT NULL
);
CREATE INDEX clues_village ON clues (village_code, state);
CREATE INDEX clues_township ON clues (township_code, state);
CREATE INDEX clues_county ON clues (county_code, state);
CREATE INDEX clues_household ON clues (household_id);
CREATE TABLE steps (
  clue_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  step TEXT NOT NULL,
  from_state TEXT NOT NULL,
  to_state TEXT NOT NULL,
  actor TEXT NOT NULL,
  role TEXT NOT NULL,
  at TEXT NOT NULL,
  note TEXT NOT NULL,
  proposal TEXT,
  outcome TEXT,
  category TEXT,
  published INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (clue_id, seq)
);
CREATE INDEX steps_unpublished ON steps (published, at);
CREATE TABLE households (
  household_id TEXT PRIMARY KEY,
  village_code TEXT NOT NULL,
  township_code TEXT NOT NULL,
  county_code TEXT NOT NULL,
  household_type TEXT NOT NULL,
  category TEXT,
  status TEXT NOT NULL,
  dibao INTEGER NOT NULL,
  tekun INTEGER NOT NULL,
  persons INTEGER NOT NULL,
  risk_types TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE INDEX households_village ON households (village_code);
CREATE TABLE accounts (
  username TEXT PRIMARY KEY,
  display_name TEXT NOT NULL,
  role TEXT NOT NULL,
  scope TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  disabled INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL
);
CREATE TABLE sessions (
  token_hash TEXT PRIMARY KEY,
  username TEXT NOT NULL,
  created_at TEXT NOT NULL,
  expires_at TEXT NOT NULL
);
