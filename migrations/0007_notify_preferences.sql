-- The app's view of the notification hub: per-owner channel preferences and quiet hours, and
-- the inbox's unread count.

CREATE TABLE notification_preference (
    -- `citizen:<id>`, `enterprise:<id>`, `staff:<id>`: the notification owner.
    owner        text PRIMARY KEY,
    -- Channels for non-essential notifications; must-reach (legal notices) and priority-10
    -- notifications ignore them.
    push         boolean NOT NULL DEFAULT true,
    sms          boolean NOT NULL DEFAULT true,
    email        boolean NOT NULL DEFAULT true,
    -- Local time (Asia/Shanghai), [start, end), may wrap midnight; non-essential push waits.
    quiet_start  time,
    quiet_end    time,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CHECK ((quiet_start IS NULL) = (quiet_end IS NULL)),
    CHECK (quiet_start IS NULL OR quiet_start <> quiet_end)
);

-- The inbox: a page newest first (created_at, id) and its unread count.
CREATE INDEX notification_owner_page_idx ON notification (owner, created_at DESC, id DESC)
    WHERE owner IS NOT NULL;
CREATE INDEX notification_owner_unread_idx ON notification (owner)
    WHERE owner IS NOT NULL AND read_at IS NULL;
-- A device's pending pushes, cancelled when it is removed or changes hands.
CREATE INDEX notification_delivery_device_idx ON notification_delivery (device_id)
    WHERE device_id IS NOT NULL;
