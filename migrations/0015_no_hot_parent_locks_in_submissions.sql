-- Every submission used to take a KEY SHARE lock on three rows that all submissions share: its
-- item version and lead department (the foreign keys of `cases`) and its notice's template
-- version (the foreign key of `notification`). Concurrent lockers of one row each rewrite its
-- lock word as a new MultiXact: a hot row in the submit path. The foreign keys go; what they
-- guarded still holds:
--   * item versions and notification templates are immutable already (triggers of 0004 and
--     0005 refuse UPDATE and DELETE), so a row a case or notice names stays;
--   * departments get the same guard for what cases name: no DELETE, no new id;
--   * the submitting transaction reads the item version (published, current) and the template
--     it names, so a missing parent refuses the submission before anything is written.
ALTER TABLE cases DROP CONSTRAINT cases_lead_department_id_fkey;
ALTER TABLE cases DROP CONSTRAINT cases_item_id_item_version_fkey;
ALTER TABLE notification DROP CONSTRAINT notification_template_key_template_version_fkey;

CREATE FUNCTION department_is_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'departments are named by cases and are never removed or re-keyed (% refused)', TG_OP;
END;
$$;

CREATE TRIGGER department_is_kept BEFORE DELETE OR UPDATE OF id ON department
    FOR EACH ROW EXECUTE FUNCTION department_is_kept();
