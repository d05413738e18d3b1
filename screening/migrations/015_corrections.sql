-- 账实不符: what a visit found that contradicts the household ledger (members, ID, category, income,
-- other) becomes a correction item for the national monitoring system: field, the recorded value,
-- the value found, the evidence; open until the county records that it was corrected there. Items
-- hang on the clue of the visit (published with its case, so a rebuild keeps them). ID numbers are
-- kept masked, like every free text.
CREATE TABLE corrections (
  clue_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  household_id TEXT NOT NULL,
  village_code TEXT NOT NULL,
  county_code TEXT NOT NULL,
  field TEXT NOT NULL,
  recorded TEXT NOT NULL,
  found TEXT NOT NULL,
  evidence TEXT NOT NULL,
  origin TEXT NOT NULL,  -- 'visit' (found from the visit form's answers) or 'officer' (entered)
  status TEXT NOT NULL,  -- 'open' or 'corrected'
  found_by TEXT NOT NULL,
  found_on TEXT NOT NULL,
  corrected_by TEXT,
  corrected_on TEXT,
  PRIMARY KEY (clue_id, seq)
);
CREATE INDEX corrections_county ON corrections (county_code, status);
