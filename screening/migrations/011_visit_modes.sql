-- How a clue's visit was made (入户 in person, 电话 by phone, 微信 by WeChat: the plan allows an online
-- visit where an epidemic prevents a home visit) and by which screening team of two; an online visit
-- stays flagged (online_pending) until an in-person visit follows (in_person_on).
ALTER TABLE clues ADD COLUMN visit_mode TEXT;
ALTER TABLE clues ADD COLUMN visit_team TEXT;
ALTER TABLE clues ADD COLUMN online_pending INTEGER NOT NULL DEFAULT 0;
ALTER TABLE clues ADD COLUMN in_person_on TEXT;
