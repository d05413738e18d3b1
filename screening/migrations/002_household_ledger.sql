-- The household ledger gains what the monthly data-quality checks (数据质量提升行动) look at.
ALTER TABLE households ADD COLUMN income_pc DOUBLE PRECISION NOT NULL DEFAULT 0;
ALTER TABLE households ADD COLUMN housing_safe INTEGER NOT NULL DEFAULT 1;
ALTER TABLE households ADD COLUMN water_safe INTEGER NOT NULL DEFAULT 1;
ALTER TABLE households ADD COLUMN heads INTEGER NOT NULL DEFAULT 1;
ALTER TABLE households ADD COLUMN can_work INTEGER NOT NULL DEFAULT 0;
ALTER TABLE households ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
ALTER TABLE households ADD COLUMN ill INTEGER NOT NULL DEFAULT 0;
ALTER TABLE households ADD COLUMN uninsured INTEGER NOT NULL DEFAULT 0;
CREATE INDEX households_county ON households (county_code, status);
CREATE INDEX steps_at ON steps (step, at);
