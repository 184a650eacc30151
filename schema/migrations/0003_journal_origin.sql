-- 0003_journal_origin.sql: an index of the hub's journal by origin node. Applied in one transaction by the store
-- after 0002; PRAGMA user_version becomes 3.
--
-- The hub reads the journal by origin when a node sends changes it already has (a replay: an answer was lost on
-- the way): each replayed change must be the very change the hub committed under that number, else the node's
-- store was restored from a backup and reused its change numbers, and skipping the "replay" would lose a change
-- without a word (shared/src/merge.c check_replays; docs/design.md "Recovery").
CREATE INDEX journal_origin ON journal(origin, last_seq);
