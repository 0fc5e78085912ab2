-- The web interface: each user's language, and follow-up dates on actions (the worklist's
-- "follow-ups due").
ALTER TABLE users ADD COLUMN locale TEXT;
ALTER TABLE actions ADD COLUMN follow_up_on TEXT;
CREATE INDEX actions_follow_up ON actions(follow_up_on, case_id) WHERE follow_up_on IS NOT NULL;
