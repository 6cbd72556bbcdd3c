-- Small material files keep their bytes here, written in the statement that writes their
-- material_file row (decision record 0011): one commit, one WAL flush, makes both durable,
-- where a blob on disk needs a filesystem sync of its own before its row may be committed.
-- Larger files stay in the content-addressed blob store; a reader looks here first.
CREATE TABLE material_bytes (
    sha256  text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    bytes   bytea NOT NULL
);

-- Materials are PDFs, JPEGs, PNGs and OFDs, compressed already: out of line without pglz's
-- attempt to compress them.
ALTER TABLE material_bytes ALTER COLUMN bytes SET STORAGE EXTERNAL;

-- Content-addressed bytes are named by rows that are never removed.
CREATE TRIGGER material_bytes_are_kept BEFORE DELETE OR UPDATE ON material_bytes
    FOR EACH ROW EXECUTE FUNCTION rows_are_kept();
