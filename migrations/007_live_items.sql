-- Live items. items.changed_version is the data_version of the last change to the item's
-- ratings (a rating of it written, changed or deleted, or its rater deleted), as
-- users.changed_version is for users: serving folds an item the active model does not know in
-- from its current ratings, and folds it in again when this moves. Items that exist now are
-- taken as changed at the current version.
ALTER TABLE items ADD COLUMN changed_version INTEGER NOT NULL DEFAULT 0;
UPDATE items SET changed_version = (SELECT value FROM meta WHERE key = 'data_version');
-- The data_version of the first write that can hold a rating of the item (0: before this
-- migration): every rating of it was written at or after this version.
ALTER TABLE items ADD COLUMN created_version INTEGER NOT NULL DEFAULT 0;

-- Ratings have no index by item (migration 004 dropped it for the sake of bulk imports). Every
-- rating written after a model's snapshot (or after the item was created) marked its user
-- changed after it, so the raters of an item the model does not know are among the users changed
-- since the later of the two: this index finds them, and each of their ratings of the item is
-- one lookup of the primary key. It costs an import one index update per user and batch, not
-- per rating.
CREATE INDEX users_by_changed ON users(changed_version);
