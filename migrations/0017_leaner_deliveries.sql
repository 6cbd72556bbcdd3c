-- Every notice writes a notification, a delivery per channel and each delivery's first event,
-- in the transaction of the change it tells about (a case submission among them). One of the
-- delivery's indexes only ever serves lookups of a value a new delivery does not have yet, and
-- two foreign keys check rows the same transaction wrote a moment before.

-- Provider receipts look a delivery up by the message id the provider gave it when it was sent;
-- a delivery not yet sent has none, and needs no entry.
DROP INDEX notification_delivery_provider_msg_idx;
CREATE INDEX notification_delivery_provider_msg_idx
    ON notification_delivery (provider, provider_message_id)
    WHERE provider_message_id IS NOT NULL;

-- A notification's deliveries and their first events are written in the transaction that
-- writes the notification, right after it (src/notify/outbox.rs: the delivery statement names
-- the id the notification statement returned, and its event the delivery it inserts), and
-- notifications and deliveries are never removed or re-keyed.
ALTER TABLE notification_delivery DROP CONSTRAINT notification_delivery_notification_id_fkey;
ALTER TABLE notification_event DROP CONSTRAINT notification_event_delivery_id_fkey;

CREATE TRIGGER notifications_are_kept BEFORE DELETE OR UPDATE OF id ON notification
    FOR EACH ROW EXECUTE FUNCTION rows_are_kept();
CREATE TRIGGER notification_deliveries_are_kept BEFORE DELETE OR UPDATE OF id ON notification_delivery
    FOR EACH ROW EXECUTE FUNCTION rows_are_kept();
