-- Names of townships (9-digit codes) and villages (12-digit codes): the geography's area table
-- (统计用区划代码 of the city), loaded with `dixian screening areas FILE`. Counties are in dixian.geo.
CREATE TABLE areas (
  code TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  loaded_at TEXT NOT NULL
);
