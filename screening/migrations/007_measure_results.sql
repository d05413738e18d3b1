-- A measure of an assistance plan is worked until it ends: it can be updated while it runs (its
-- content, its planned end) and is closed with a result (已完成: what it achieved; 已终止: why it
-- stopped). ``status``: active | done | stopped (dixian.contract.vocabulary.MeasureStatus).
ALTER TABLE measures ADD COLUMN status TEXT NOT NULL DEFAULT 'active';
ALTER TABLE measures ADD COLUMN result TEXT;
ALTER TABLE measures ADD COLUMN closed_on TEXT;
ALTER TABLE measures ADD COLUMN updated_by TEXT;
ALTER TABLE measures ADD COLUMN updated_at TEXT;
