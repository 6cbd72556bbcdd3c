-- The item catalog (事项目录): items edited as drafts and published as immutable versions.

-- Files served for download (blank and sample forms); the bytes live in the content-addressed
-- blob store under their SHA-256, this table records what was uploaded and by whom.
CREATE TABLE stored_file (
    sha256        text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    size_bytes    bigint NOT NULL CHECK (size_bytes > 0),
    content_type  text NOT NULL,
    uploaded_by   text NOT NULL,
    uploaded_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE item (
    id                  uuid PRIMARY KEY,
    code                text NOT NULL UNIQUE,
    lead_department_id  uuid NOT NULL REFERENCES department (id),
    -- Copied from the lead department: every case-scoped table will carry it (Citus-ready).
    region_code         text NOT NULL,
    -- draft: never published; published: a version is live; cancelled: unpublished.
    status              text NOT NULL CHECK (status IN ('draft', 'published', 'cancelled')),
    draft               jsonb NOT NULL,
    -- Optimistic concurrency for draft edits and publication.
    draft_revision      integer NOT NULL DEFAULT 1,
    current_version     integer,
    cancel_reason       text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'draft') = (current_version IS NULL)),
    CHECK ((status = 'cancelled') = (cancel_reason IS NOT NULL))
);

CREATE INDEX item_lead_department_idx ON item (lead_department_id);

CREATE TABLE item_version (
    item_id         uuid NOT NULL REFERENCES item (id),
    version         integer NOT NULL CHECK (version >= 1),
    name            text NOT NULL,
    category        text NOT NULL,
    parent_code     text,
    -- Lead and co-departments, for filtering by department.
    department_ids  uuid[] NOT NULL,
    guide           jsonb NOT NULL,
    guide_sha256    text NOT NULL,
    published_at    timestamptz NOT NULL DEFAULT now(),
    published_by    text NOT NULL,
    PRIMARY KEY (item_id, version)
);

CREATE INDEX item_version_departments_idx ON item_version USING gin (department_ids);

-- Published versions are immutable: cases point at the version they were applied under.
CREATE FUNCTION item_version_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'published item versions are immutable (% refused)', TG_OP;
END;
$$;

CREATE TRIGGER item_version_no_change BEFORE UPDATE OR DELETE ON item_version
    FOR EACH ROW EXECUTE FUNCTION item_version_immutable();
