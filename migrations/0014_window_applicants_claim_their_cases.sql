-- A window case's applicant who has no verified app account yet is found again when they get
-- one: `applicant_id_index` is the blind index (HMAC) of their ID number or credit code, kept
-- only while the case has no applicant account. Registration with a verified real name (or a
-- later verification, or an enterprise's first certificate login) links those cases and their
-- licences to the account and clears the index.
ALTER TABLE cases ADD COLUMN applicant_id_index bytea;

CREATE INDEX cases_unclaimed_applicant_idx ON cases (applicant_kind, applicant_id_index)
    WHERE applicant_subject IS NULL AND applicant_id_index IS NOT NULL;
