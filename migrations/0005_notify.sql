-- The notification hub: versioned templates, notifications with their per-channel deliveries
-- (the transactional outbox), each delivery's status history, and app push devices.

CREATE TABLE notification_template (
    key                 text    NOT NULL CHECK (key ~ '^[a-z][a-z0-9_.]{1,63}$'),
    version             integer NOT NULL CHECK (version >= 1),
    sms_body            text,
    push_title          text,
    push_body           text,
    email_subject       text,
    email_body          text,
    -- Provider template ids for SMS gateways that send only pre-approved templates:
    -- {"aliyun": "SMS_123", "tencent": "456"}.
    provider_templates  jsonb   NOT NULL DEFAULT '{}'::jsonb,
    variables           text[]  NOT NULL,
    created_by          text    NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (key, version),
    CHECK (sms_body IS NOT NULL OR push_body IS NOT NULL OR email_body IS NOT NULL)
);

CREATE TRIGGER notification_template_immutable BEFORE UPDATE OR DELETE ON notification_template
    FOR EACH ROW EXECUTE FUNCTION item_version_immutable();

CREATE TABLE device (
    id           uuid PRIMARY KEY,
    owner        text NOT NULL,
    platform     text NOT NULL CHECK (platform IN ('apns', 'huawei', 'fcm')),
    token        text NOT NULL,
    app_version  text,
    locale       text,
    active       boolean NOT NULL DEFAULT true,
    deactivated_reason text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (platform, token)
);
CREATE INDEX device_owner_idx ON device (owner) WHERE active;

CREATE TABLE notification (
    id               uuid PRIMARY KEY,
    -- Who it is for, when it is a user (`citizen:<id>`, later); raw addresses below otherwise.
    owner            text,
    phone            text,
    email            text,
    template_key     text    NOT NULL,
    template_version integer NOT NULL,
    variables        jsonb   NOT NULL,
    -- Channels in order of preference; with must_reach, push first and SMS as the fallback.
    channels         text[]  NOT NULL,
    must_reach       boolean NOT NULL DEFAULT false,
    priority         smallint NOT NULL DEFAULT 5,
    idempotency_key  text    NOT NULL UNIQUE,
    read_at          timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (template_key, template_version) REFERENCES notification_template (key, version)
);
CREATE INDEX notification_owner_idx ON notification (owner, created_at DESC) WHERE owner IS NOT NULL;

-- One row per channel delivery: the outbox the dispatchers drain.
CREATE TABLE notification_delivery (
    id                  uuid PRIMARY KEY,
    notification_id     uuid NOT NULL REFERENCES notification (id),
    channel             text NOT NULL CHECK (channel IN ('push', 'sms', 'email')),
    address             text NOT NULL,
    device_id           uuid REFERENCES device (id),
    title               text,
    body                text NOT NULL,
    segments            integer,
    status              text NOT NULL,
    -- Copied from the notification: OTPs (10) go before everything else (5).
    priority            smallint NOT NULL DEFAULT 5,
    attempts            integer NOT NULL DEFAULT 0,
    next_attempt_at     timestamptz NOT NULL DEFAULT now(),
    -- A fallback delivery waits for its primary: it goes only if that one has not been sent.
    fallback_for        uuid REFERENCES notification_delivery (id),
    provider            text,
    provider_message_id text,
    last_error          text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    sent_at             timestamptz,
    delivered_at        timestamptz
);
CREATE INDEX notification_delivery_due_idx ON notification_delivery (priority DESC, next_attempt_at)
    WHERE status IN ('created', 'temporary_failure');
CREATE INDEX notification_delivery_provider_msg_idx ON notification_delivery (provider, provider_message_id);
CREATE INDEX notification_delivery_address_idx ON notification_delivery (channel, address, created_at);

CREATE TABLE notification_event (
    id           bigserial PRIMARY KEY,
    delivery_id  uuid NOT NULL REFERENCES notification_delivery (id),
    status       text NOT NULL,
    detail       text,
    at           timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX notification_event_delivery_idx ON notification_event (delivery_id, id);
