-- Income composition per person and year, as the roster gives it (工资性, 经营净, 财产净, 转移净收入; they
-- add up to the per-capita net income), and last year's per-capita net income: the plan's income
-- indicators (formerly poor households' income growth against all households') in the monthly report.
-- NULL where the export does not carry them.
ALTER TABLE households ADD COLUMN wage_pc DOUBLE PRECISION;
ALTER TABLE households ADD COLUMN business_pc DOUBLE PRECISION;
ALTER TABLE households ADD COLUMN property_pc DOUBLE PRECISION;
ALTER TABLE households ADD COLUMN transfer_pc DOUBLE PRECISION;
ALTER TABLE households ADD COLUMN prev_income_pc DOUBLE PRECISION;
