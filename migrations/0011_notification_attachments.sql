-- Email for platform users: files attached to a notification (the sealed decision PDF), and the
-- email address an owner sets and proves with a code before the hub uses it.

-- Files the email delivery of a notification carries, by blob (content-addressed, sha-256) in
-- the blob store; push and SMS ignore them.
CREATE TABLE notification_attachment (
    notification_id uuid     NOT NULL REFERENCES notification (id),
    position        smallint NOT NULL CHECK (position >= 0),
    filename        text     NOT NULL CHECK (length(filename) BETWEEN 1 AND 200),
    content_type    text     NOT NULL CHECK (content_type ~ '^[a-z0-9.+-]+/[a-z0-9.+-]+$'),
    blob_sha256     text     NOT NULL CHECK (blob_sha256 ~ '^[0-9a-f]{64}$'),
    PRIMARY KEY (notification_id, position)
);

-- An owner's verified email address: the one the outbox uses for their email channel.
CREATE TABLE owner_email (
    -- `citizen:<id>`, `enterprise:<id>`, `staff:<id>`: the notification owner.
    owner        text PRIMARY KEY,
    address      text NOT NULL CHECK (length(address) BETWEEN 3 AND 254),
    verified_at  timestamptz NOT NULL DEFAULT now()
);

-- Codes sent to prove an address; only the newest unconsumed one of an owner counts. The code
-- itself is stored as a keyed hash; rows also count the codes sent per hour.
CREATE TABLE owner_email_code (
    id           uuid PRIMARY KEY,
    owner        text NOT NULL,
    address      text NOT NULL CHECK (length(address) BETWEEN 3 AND 254),
    code_hash    bytea NOT NULL,
    attempts     integer NOT NULL DEFAULT 0,
    expires_at   timestamptz NOT NULL,
    consumed_at  timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX owner_email_code_owner_idx ON owner_email_code (owner, created_at DESC);

-- The email carrying an address-verification code (priority 10, never in the inbox).
INSERT INTO notification_template (key, version, email_subject, email_body, variables, created_by)
VALUES ('notify.email_code', 1, '【指尖办】邮箱验证码',
        '您好：

您正在将本邮箱设为指尖办的通知邮箱，验证码为 {code}，{minutes}分钟内有效。
如非本人操作，请忽略本邮件，本邮箱不会收到任何通知。

——指尖办政务服务平台（请勿回复本邮件）',
        ARRAY['code', 'minutes'], 'migration');
