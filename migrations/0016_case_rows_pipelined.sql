-- A submission writes the case, its materials, its timeline, its audit record and its notice in
-- one pipelined flight of statements (a few round trips instead of one per statement). The
-- server prepares statements per connection on first use, so the order in which they reach the
-- database is not fixed, and a material or event may arrive before the case row it names. The
-- foreign keys that would refuse that go; what they guarded still holds:
--   * every statement that writes a case's materials or events runs in the transaction that
--     inserts the case or has just read and updated it at a known revision; when the case
--     insert does not happen (a repeated Idempotency-Key), the transaction is rolled back;
--   * every material file a case names was read, owned by the submitter, before the
--     transaction wrote it;
--   * cases and material files are never removed or re-keyed (the triggers below), so what a
--     row names stays.
-- The checks also cost every submission eight KEY SHARE row locks (each a WAL record).
ALTER TABLE case_material DROP CONSTRAINT case_material_case_id_fkey;
ALTER TABLE case_material DROP CONSTRAINT case_material_file_id_fkey;
ALTER TABLE case_event DROP CONSTRAINT case_event_case_id_fkey;

CREATE FUNCTION rows_are_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% rows are named by other rows and are never removed or re-keyed (% refused)',
        TG_TABLE_NAME, TG_OP;
END;
$$;

CREATE TRIGGER cases_are_kept BEFORE DELETE OR UPDATE OF id ON cases
    FOR EACH ROW EXECUTE FUNCTION rows_are_kept();
CREATE TRIGGER material_files_are_kept BEFORE DELETE OR UPDATE OF id ON material_file
    FOR EACH ROW EXECUTE FUNCTION rows_are_kept();
