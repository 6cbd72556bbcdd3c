-- The identity gateway: citizens (SMS OTP + real-name check), enterprises (CA certificates),
-- staff (passwords, roles per department and item step, AB backups), one-time codes and
-- challenges, and sessions with rotating refresh tokens.

-- Citizens. The ID number is stored encrypted (AES-256-GCM) with an HMAC blind index for lookups
-- and its masked form for display; the plain number never touches the database.
CREATE TABLE citizen (
    id                  uuid PRIMARY KEY,
    phone               text NOT NULL UNIQUE CHECK (phone ~ '^1[3-9][0-9]{9}$'),
    name                text NOT NULL CHECK (length(name) BETWEEN 2 AND 50),
    id_number_sealed    bytea NOT NULL,
    id_number_index     bytea NOT NULL UNIQUE,
    id_number_masked    text NOT NULL,
    -- 1 phone proven, 2 name + ID verified by the identity authority, 3 certificate.
    assurance           smallint NOT NULL CHECK (assurance BETWEEN 1 AND 3),
    -- verified | mismatch | not_found | unavailable: the last real-name check's outcome.
    realname_status     text NOT NULL,
    realname_checked_at timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);

-- Enterprises, identified by the unified social credit code (or a legacy organisation code)
-- taken from their certificates.
CREATE TABLE enterprise (
    id            uuid PRIMARY KEY,
    code          text NOT NULL UNIQUE,
    code_kind     text NOT NULL CHECK (code_kind IN ('uscc', 'organisation')),
    name          text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_login_at timestamptz
);

CREATE TABLE enterprise_certificate (
    fingerprint   text PRIMARY KEY,
    enterprise_id uuid NOT NULL REFERENCES enterprise (id),
    subject       text NOT NULL,
    issuer        text NOT NULL,
    serial_hex    text NOT NULL,
    matched_field text NOT NULL,
    not_after     timestamptz NOT NULL,
    first_seen_at timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX enterprise_certificate_enterprise_idx ON enterprise_certificate (enterprise_id);

-- Staff: username + argon2id password (PHC string), lockout after repeated failures.
CREATE TABLE staff (
    id              uuid PRIMARY KEY,
    username        text NOT NULL UNIQUE CHECK (username ~ '^[a-z0-9][a-z0-9._-]{2,63}$'),
    display_name    text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 50),
    password_hash   text NOT NULL,
    -- Optional certificate for staff certificate login (SHA-256 fingerprint of the leaf).
    certificate_fingerprint text UNIQUE,
    active          boolean NOT NULL DEFAULT true,
    failed_attempts integer NOT NULL DEFAULT 0,
    locked_until    timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- A role held by a staff member: platform-wide (platform_admin, supervisor, observer may have no
-- department) or in one department; handling roles may be narrowed to one item and step.
CREATE TABLE staff_role (
    id            uuid PRIMARY KEY,
    staff_id      uuid NOT NULL REFERENCES staff (id),
    role          text NOT NULL CHECK (role IN ('window_clerk', 'reviewer', 'approver',
                      'department_admin', 'platform_admin', 'supervisor', 'observer')),
    department_id uuid REFERENCES department (id),
    item_code     text,
    step          text,
    granted_by    text NOT NULL,
    granted_at    timestamptz NOT NULL DEFAULT now(),
    revoked_at    timestamptz,
    CHECK (role IN ('platform_admin', 'supervisor', 'observer') OR department_id IS NOT NULL),
    CHECK (step IS NULL OR item_code IS NOT NULL)
);
CREATE INDEX staff_role_staff_idx ON staff_role (staff_id) WHERE revoked_at IS NULL;

-- AB岗: while the principal is away, the backup may act with the principal's department roles.
CREATE TABLE staff_backup (
    id           uuid PRIMARY KEY,
    principal_id uuid NOT NULL REFERENCES staff (id),
    backup_id    uuid NOT NULL REFERENCES staff (id),
    starts_at    timestamptz NOT NULL,
    ends_at      timestamptz NOT NULL,
    reason       text NOT NULL,
    created_by   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz,
    CHECK (principal_id <> backup_id),
    CHECK (ends_at > starts_at)
);
CREATE INDEX staff_backup_backup_idx ON staff_backup (backup_id) WHERE revoked_at IS NULL;

-- SMS one-time codes: stored as an HMAC of (phone, purpose, code), single use, short-lived.
-- The rows double as the rate limiter's memory (per phone and per client address).
CREATE TABLE otp_code (
    id          uuid PRIMARY KEY,
    phone       text NOT NULL,
    purpose     text NOT NULL CHECK (purpose IN ('register', 'login')),
    code_hash   bytea NOT NULL,
    client_ip   text,
    attempts    integer NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    consumed_at timestamptz
);
CREATE INDEX otp_code_phone_idx ON otp_code (phone, created_at DESC);
CREATE INDEX otp_code_ip_idx ON otp_code (client_ip, created_at DESC);

-- Certificate login challenges: one-time nonces with an expiry.
CREATE TABLE login_challenge (
    challenge_hash bytea PRIMARY KEY,
    expires_at     timestamptz NOT NULL,
    used_at        timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now()
);

-- Failed password logins per client address, for the per-address limit (the per-account
-- lockout lives on `staff`).
CREATE TABLE login_failure (
    client_ip  text NOT NULL,
    at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_failure_ip_idx ON login_failure (client_ip, at DESC);

-- A session: one login on one device. Refresh tokens rotate inside it; reuse of a rotated
-- token revokes the whole session.
CREATE TABLE auth_session (
    id           uuid PRIMARY KEY,
    -- citizen:<uuid> | enterprise:<uuid> | staff:<uuid>
    subject      text NOT NULL,
    assurance    smallint NOT NULL,
    method       text NOT NULL,
    user_agent   text,
    client_ip    text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz,
    revoked_reason text
);
CREATE INDEX auth_session_subject_idx ON auth_session (subject) WHERE revoked_at IS NULL;

CREATE TABLE refresh_token (
    token_hash  bytea PRIMARY KEY,
    session_id  uuid NOT NULL REFERENCES auth_session (id),
    issued_at   timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    rotated_at  timestamptz
);
CREATE INDEX refresh_token_session_idx ON refresh_token (session_id);

-- The SMS carrying a one-time code: sent before everything else (priority 10).
INSERT INTO notification_template (key, version, sms_body, variables, created_by)
VALUES ('identity.otp', 1, '您的验证码为{code}，{minutes}分钟内有效。如非本人操作，请忽略本短信。',
        ARRAY['code', 'minutes'], 'migration');
