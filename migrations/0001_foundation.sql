-- Foundation: departments in a hierarchy (province → city → county → town), each with its
-- administrative region code (GB/T 2260 six digits; towns use the 9-digit statistical code).

CREATE TABLE department (
    id            uuid PRIMARY KEY,
    code          text NOT NULL UNIQUE CHECK (code ~ '^[A-Z0-9][A-Z0-9-]{1,39}$'),
    name          text NOT NULL CHECK (length(name) BETWEEN 2 AND 100),
    level         text NOT NULL CHECK (level IN ('province', 'city', 'county', 'town')),
    region_code   text NOT NULL CHECK (region_code ~ '^[0-9]{6}([0-9]{3})?$'),
    parent_id     uuid REFERENCES department (id),
    phone         text,
    address       text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX department_parent_idx ON department (parent_id);
CREATE INDEX department_region_idx ON department (region_code);
