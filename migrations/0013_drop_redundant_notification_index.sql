-- notification_owner_page_idx (owner, created_at DESC, id DESC) serves every query that
-- notification_owner_idx (owner, created_at DESC) did, with the same predicate: every
-- notification (one per case event) paid for a second, useless index entry.
DROP INDEX notification_owner_idx;
