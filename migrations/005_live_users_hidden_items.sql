-- Live personalisation. users.changed_version is the data_version of the last change to the
-- user's ratings, so serving can tell a user whose ratings changed after the active model's
-- snapshot (their row is folded in again) from one the model saw as they are. Users that exist
-- now are taken as changed at the current version: a model trained before this migration does
-- not record which of them it saw as they are, so they are folded in once.
ALTER TABLE users ADD COLUMN changed_version INTEGER NOT NULL DEFAULT 0;
UPDATE users SET changed_version = (SELECT value FROM meta WHERE key = 'data_version');

-- A hidden item is never recommended; its ratings still train.
ALTER TABLE items ADD COLUMN hidden INTEGER NOT NULL DEFAULT 0;
