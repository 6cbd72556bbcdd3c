-- Append-only, tamper-evident audit log.
-- Records are hash-chained per aggregate (an item's history, later a case's or an account's):
-- each record carries the hash of the previous record of the same aggregate. The chain head row
-- of that aggregate is locked while appending, which orders appends without any global lock.
-- Periodic checkpoints sign (Ed25519) the set of all chain heads, so deleting or truncating a
-- whole chain is detected too.

CREATE TABLE audit_chain_head (
    aggregate_type text   NOT NULL,
    aggregate_id   text   NOT NULL,
    seq            bigint NOT NULL CHECK (seq >= 1),
    hash           text   NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (aggregate_type, aggregate_id)
);

CREATE TABLE audit_record (
    id             bigserial PRIMARY KEY,
    aggregate_type text   NOT NULL,
    aggregate_id   text   NOT NULL,
    seq            bigint NOT NULL CHECK (seq >= 1),
    actor          text   NOT NULL,
    action         text   NOT NULL,
    recorded_at    timestamptz NOT NULL,
    before_digest  text,
    after_digest   text,
    details        jsonb  NOT NULL DEFAULT '{}'::jsonb,
    prev_hash      text   NOT NULL,
    hash           text   NOT NULL,
    UNIQUE (aggregate_type, aggregate_id, seq)
);

CREATE TABLE audit_checkpoint (
    id            bigserial PRIMARY KEY,
    created_at    timestamptz NOT NULL DEFAULT now(),
    head_count    bigint NOT NULL,
    heads_digest  text   NOT NULL,
    prev_signature text,
    public_key    text   NOT NULL,
    signature     text   NOT NULL
);

-- The heads each checkpoint signed, so `audit verify` can tell that every chain still reaches them.
CREATE TABLE audit_checkpoint_head (
    checkpoint_id  bigint NOT NULL REFERENCES audit_checkpoint (id),
    aggregate_type text   NOT NULL,
    aggregate_id   text   NOT NULL,
    seq            bigint NOT NULL,
    hash           text   NOT NULL,
    PRIMARY KEY (checkpoint_id, aggregate_type, aggregate_id)
);

-- Append-only: ordinary roles cannot rewrite history. (A superuser can drop the trigger; the
-- hash chains and signed checkpoints are what detect that.)
CREATE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit records are append-only (% refused on %)', TG_OP, TG_TABLE_NAME;
END;
$$;

CREATE TRIGGER audit_record_append_only BEFORE UPDATE OR DELETE ON audit_record
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_record_no_truncate BEFORE TRUNCATE ON audit_record
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_checkpoint_append_only BEFORE UPDATE OR DELETE ON audit_checkpoint
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_checkpoint_head_append_only BEFORE UPDATE OR DELETE ON audit_checkpoint_head
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
