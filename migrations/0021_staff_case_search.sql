-- Staff case search (GET /api/v1/staff/cases, src/cases/search.rs): the keyset order
-- (newest received first: submitted_at DESC, id DESC, read backwards) and an index for each
-- filter that narrows it. The acceptance number (UNIQUE), applicant accounts
-- (cases_applicant_idx), window applicants' blind index (cases_unclaimed_applicant_idx) and the
-- departments a case involves (cases_departments_idx, GIN) have theirs already.
CREATE INDEX cases_received_idx ON cases (submitted_at, id);
CREATE INDEX cases_item_received_idx ON cases (item_code, submitted_at, id);
CREATE INDEX cases_stage_received_idx ON cases (stage, submitted_at, id);
-- The ID tail: its last four characters are the masked number's (`1101**********002X`).
CREATE INDEX cases_id_tail_idx ON cases (right(applicant_id_masked, 4));
CREATE INDEX cases_closed_idx ON cases (closed_at) WHERE closed_at IS NOT NULL;
-- The earliest a deadline can fall (suspensions and extensions only move it later): the
-- bound the overdue and near-deadline filters narrow by before the calendar decides.
CREATE INDEX cases_earliest_deadline_idx ON cases ((accepted_on + limit_working_days))
    WHERE accepted_on IS NOT NULL;
