-- Relocation sites (易地搬迁集中安置点) are units of the area table beside the villages: the
-- communities relocated households are registered in, screened by the site's management. ``kind``:
-- 'area' (a township or village) or 'site' (screening.areas.is_site).
ALTER TABLE areas ADD COLUMN kind TEXT NOT NULL DEFAULT 'area';
