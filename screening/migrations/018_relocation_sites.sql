-- Relocation sites (易地搬迁集中安置点) are units of the area table beside the villages: the
-- communities relocated households are registered in, screened by the site's management. ``kind``:
-- 'area' (a township or village) or 'site' (screening.areas.is_site).
ALTER TABLE areas ADD COLUMN kind TEXT NOT NULL DEFAULT 'area';
-- the areas loaded before: marked from their names (screening.areas.SITE_SUFFIXES)
UPDATE areas SET kind = 'site' WHERE length(code) = 12
  AND (substr(name, length(name) - 2) IN ('安置点', '安置区')
       OR substr(name, length(name) - 3) IN ('安置社区', '安置小区'));
