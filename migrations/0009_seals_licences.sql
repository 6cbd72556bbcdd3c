-- Electronic seals, the sealed documents of cases, and the licence library (证照库).

-- The platform's seal CA (development), or the chain of an imported real CA.
CREATE TABLE seal_authority (
    id              uuid PRIMARY KEY,
    certificate_der bytea NOT NULL,
    -- The CA's PKCS#8 key, AES-256-GCM sealed under the seal key file; NULL for an imported
    -- CA (only its certificate is known).
    key_sealed      bytea,
    subject         text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- A department's seal: a key pair, its certificate, and what the drawn image shows.
CREATE TABLE seal (
    id              uuid PRIMARY KEY,
    department_id   uuid NOT NULL REFERENCES department (id),
    -- decision: 行政审批专用章, only an approver at the decision step applies it;
    -- acceptance: 受理专用章, for notices issued at the window.
    purpose         text NOT NULL CHECK (purpose IN ('decision', 'acceptance')),
    -- The text under the star (e.g. 行政审批专用章); the department's name goes on the arc.
    label           text NOT NULL,
    algorithm       text NOT NULL CHECK (algorithm IN ('ecdsa-p256-sha256')),
    certificate_der bytea NOT NULL,
    -- Issuer certificates up to the root, DER, nearest first.
    chain_der       bytea[] NOT NULL,
    -- PKCS#8, AES-256-GCM sealed under the seal key file (AAD: the seal id).
    key_sealed      bytea NOT NULL,
    serial_hex      text NOT NULL,
    status          text NOT NULL CHECK (status IN ('active', 'suspended', 'revoked')),
    status_reason   text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
-- One seal in force per department and purpose (suspended ones still block a second).
CREATE UNIQUE INDEX seal_in_force_idx ON seal (department_id, purpose) WHERE status <> 'revoked';

-- Every sealed document of a case (the bytes in the blob store, by sha-256).
CREATE TABLE case_document (
    id              uuid PRIMARY KEY,
    case_id         uuid NOT NULL REFERENCES cases (id),
    region_code     text NOT NULL,
    kind            text NOT NULL,
    document_number text NOT NULL UNIQUE,
    sha256          text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    size_bytes      bigint NOT NULL,
    seal_id         uuid NOT NULL REFERENCES seal (id),
    signed_at       timestamptz NOT NULL,
    -- The public verification token in the QR code.
    verify_token    text NOT NULL UNIQUE,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX case_document_case_idx ON case_document (case_id);
CREATE INDEX case_document_sha_idx ON case_document (sha256);

-- Document numbers (文号) per department and year: a SEQUENCE each, created on first use.
CREATE FUNCTION next_document_sequence(department_code text, year integer) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    seq_name text := 'document_seq_' || lower(replace(department_code, '-', '_')) || '_' || year;
BEGIN
    BEGIN
        RETURN nextval(seq_name);
    EXCEPTION WHEN undefined_table THEN
        EXECUTE format('CREATE SEQUENCE IF NOT EXISTS %I', seq_name);
        RETURN nextval(seq_name);
    END;
END;
$$;

-- The licence library (证照库).
CREATE TABLE licence (
    id              uuid PRIMARY KEY,
    number          text NOT NULL UNIQUE,
    licence_type    text NOT NULL,
    case_id         uuid NOT NULL REFERENCES cases (id),
    document_id     uuid NOT NULL REFERENCES case_document (id),
    region_code     text NOT NULL,
    holder_kind     text NOT NULL CHECK (holder_kind IN ('citizen', 'enterprise')),
    holder_subject  text,
    holder_name     text NOT NULL,
    holder_id_masked text NOT NULL,
    department_id   uuid NOT NULL REFERENCES department (id),
    valid_from      date NOT NULL,
    valid_to        date,
    revoked_at      timestamptz,
    revoked_reason  text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CHECK ((revoked_at IS NULL) = (revoked_reason IS NULL))
);
CREATE INDEX licence_holder_idx ON licence (holder_subject);

-- Time-limited links a holder shares (only the token's hash is kept).
CREATE TABLE licence_share (
    token_hash  bytea PRIMARY KEY,
    licence_id  uuid NOT NULL REFERENCES licence (id),
    expires_at  timestamptz NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

INSERT INTO notification_template (key, version, sms_body, push_title, push_body, email_subject, email_body, variables, created_by) VALUES
('licence.revoked', 1,
 '您的{licence_type}（编号{number}）已被{department}撤销，理由：{reason}。',
 '证照已撤销', '您的{licence_type}（编号{number}）已被撤销，理由：{reason}。',
 '证照撤销通知', '您的{licence_type}（编号{number}）已被{department}撤销，理由：{reason}。',
 ARRAY['licence_type', 'number', 'department', 'reason'], 'migration');
