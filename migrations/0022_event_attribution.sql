-- Who acted, on every timeline event [000 art.13, 34]: the staff account (until now only in the
-- `actor` text) as a typed column, and, for an AB backup (AB岗), the absent colleague whose post
-- they held. Nullable and without defaults, so adding them rewrites nothing: events recorded
-- before keep NULL (the reader falls back to `actor` for the account; a stand-in then was not
-- recorded). Display names are not copied here: they are read from identity's `staff` when a
-- timeline is shown (decision record 0017).
ALTER TABLE case_event
    ADD COLUMN actor_account_id        uuid,
    ADD COLUMN on_behalf_of_account_id uuid;
