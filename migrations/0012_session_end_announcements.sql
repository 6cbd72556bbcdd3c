-- Every ended session is announced on channel `auth_session_ended` (payload: the session id),
-- whoever ends it (logout on any instance, a copied refresh token, an administrator, plain SQL),
-- so that each instance's gate forgets a session it remembered as live at once. A TRUNCATE
-- announces `*`: forget them all. NOTIFY is transactional: nothing is announced for a
-- revocation that rolls back, and the announcement follows the commit.
CREATE FUNCTION auth_session_announce_end() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        PERFORM pg_notify('auth_session_ended', '*');
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('auth_session_ended', OLD.id::text);
    ELSIF NEW.revoked_at IS DISTINCT FROM OLD.revoked_at
          OR NEW.subject IS DISTINCT FROM OLD.subject
          OR NEW.id IS DISTINCT FROM OLD.id THEN
        PERFORM pg_notify('auth_session_ended', OLD.id::text);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER auth_session_announce_end
    AFTER UPDATE OR DELETE ON auth_session
    FOR EACH ROW EXECUTE FUNCTION auth_session_announce_end();

CREATE TRIGGER auth_session_announce_truncate
    AFTER TRUNCATE ON auth_session
    FOR EACH STATEMENT EXECUTE FUNCTION auth_session_announce_end();
