-- 财产检索: the county records each proposed household's asset-check result (passed, or failed with
-- the reason and the assets found), on its clue (a published step, so a rebuild keeps it). A county
-- inclusion needs a passed result unless the household is already 低保 or 特困 (their earlier result
-- is reused, as the plan allows).
ALTER TABLE clues ADD COLUMN asset_result TEXT;
ALTER TABLE clues ADD COLUMN asset_reason TEXT;
ALTER TABLE clues ADD COLUMN asset_found TEXT;
ALTER TABLE clues ADD COLUMN asset_checked_on TEXT;
ALTER TABLE clues ADD COLUMN asset_checked_by TEXT;
