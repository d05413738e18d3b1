-- 入户告知: each household the county decided on is told of the decision; when, by whom and how is
-- recorded on its clue (so a rebuild from the published steps brings it back). A decision not told
-- within the plan's days is flagged (screening.announcements).
ALTER TABLE clues ADD COLUMN notified_on TEXT;
ALTER TABLE clues ADD COLUMN notified_by TEXT;
ALTER TABLE clues ADD COLUMN notify_method TEXT;
