-- Cases (办件): submissions, their materials, their timeline.
--
-- Every case-scoped table carries region_code (copied from the item's lead department) so the
-- tables can later be distributed by region (Citus) without rewriting queries.

-- Files an applicant has on file (资料交一份): uploaded once, reused by any later case. The
-- bytes live in the content-addressed blob store; one row per owner and content.
CREATE TABLE material_file (
    id            uuid PRIMARY KEY,
    -- The subject that uploaded it: citizen:<id>, enterprise:<id>, or staff:<id> for window
    -- scans (handed to the applicant's case at intake).
    owner         text NOT NULL,
    sha256        text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    size_bytes    bigint NOT NULL CHECK (size_bytes > 0),
    content_type  text NOT NULL CHECK (content_type IN
                    ('application/pdf', 'image/jpeg', 'image/png', 'application/ofd')),
    file_name     text,
    uploaded_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (owner, sha256)
);

CREATE TABLE cases (
    id                  uuid PRIMARY KEY,
    region_code         text NOT NULL,
    item_id             uuid NOT NULL,
    item_code           text NOT NULL,
    item_version        integer NOT NULL,
    item_name           text NOT NULL,
    lead_department_id  uuid NOT NULL REFERENCES department (id),
    -- online (the app) or window (registered by a clerk for an applicant present in person).
    channel             text NOT NULL CHECK (channel IN ('online', 'window')),
    applicant_kind      text NOT NULL CHECK (applicant_kind IN ('citizen', 'enterprise')),
    -- The applicant's account, when they have one (window applicants may not).
    applicant_subject   text,
    applicant_name      text NOT NULL,
    -- ID number / credit code, masked; the full number is never stored here.
    applicant_id_masked text NOT NULL,
    -- HMAC of (case id, last six characters of the ID number or credit code): the public
    -- progress query's second factor, checkable without keeping the number.
    applicant_tail_mac  bytea NOT NULL,
    applicant_phone     text,
    -- 代办员: the account that applied for the applicant, under an authorisation.
    agent_subject       text,
    agent_name          text,
    -- The account or clerk that submitted (idempotency scope).
    submitted_by        text NOT NULL,
    idempotency_key     text,
    request_digest      text,
    form                jsonb NOT NULL,
    -- The state machine's CaseState; `stage` repeats its tag for indexes.
    state               jsonb NOT NULL,
    stage               text NOT NULL,
    -- Optimistic concurrency: every change bumps it; an update that finds another revision loses.
    revision            integer NOT NULL DEFAULT 1,
    -- Who must act now, as '<department uuid>:<role>' entries (the staff inbox).
    waiting_on          text[] NOT NULL DEFAULT '{}',
    -- Every department the case involves (lead, accepting, step and deciding departments).
    department_ids      uuid[] NOT NULL,
    acceptance_number   text UNIQUE,
    accepted_on         date,
    limit_working_days  integer NOT NULL CHECK (limit_working_days >= 0),
    instant             boolean NOT NULL,
    -- Suspensions and extensions (cases::clock::CaseClock minus the acceptance).
    clock               jsonb NOT NULL DEFAULT '{"suspensions": [], "extensions": []}',
    correction_count    integer NOT NULL DEFAULT 0,
    submitted_at        timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    closed_at           timestamptz,
    FOREIGN KEY (item_id, item_version) REFERENCES item_version (item_id, version),
    UNIQUE (submitted_by, idempotency_key)
);

CREATE INDEX cases_applicant_idx ON cases (applicant_subject, submitted_at DESC);
CREATE INDEX cases_agent_idx ON cases (agent_subject, submitted_at DESC) WHERE agent_subject IS NOT NULL;
CREATE INDEX cases_waiting_idx ON cases USING gin (waiting_on);
CREATE INDEX cases_departments_idx ON cases USING gin (department_ids);
CREATE INDEX cases_open_item_idx ON cases (item_id, item_version) WHERE closed_at IS NULL;

-- Acceptance number sequences, one PostgreSQL SEQUENCE per region, created on first use.
-- nextval takes no row lock, so acceptances in one region never wait for each other.
CREATE FUNCTION next_acceptance_sequence(region text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    seq_name text := 'acceptance_seq_' || region;
BEGIN
    IF region !~ '^[0-9]{6}$' THEN
        RAISE EXCEPTION 'invalid region %', region;
    END IF;
    BEGIN
        RETURN nextval(seq_name);
    EXCEPTION WHEN undefined_table THEN
        EXECUTE format('CREATE SEQUENCE IF NOT EXISTS %I MINVALUE 1 MAXVALUE 999999 CYCLE', seq_name);
        RETURN nextval(seq_name);
    END;
END;
$$;

-- The materials a case carries, each linked to the item's material list entry it satisfies.
CREATE TABLE case_material (
    id            uuid PRIMARY KEY,
    case_id       uuid NOT NULL REFERENCES cases (id),
    region_code   text NOT NULL,
    material_key  text NOT NULL,
    -- The digitised file; NULL for paper that cannot be digitised (noted by the window clerk).
    file_id       uuid REFERENCES material_file (id),
    paper_note    text,
    -- When it came: with the submission, a correction answer, or as a deferred material.
    supplied_in   text NOT NULL CHECK (supplied_in IN ('submission', 'correction', 'deferred')),
    added_at      timestamptz NOT NULL DEFAULT now(),
    CHECK ((file_id IS NULL) = (paper_note IS NOT NULL))
);
CREATE INDEX case_material_case_idx ON case_material (case_id);

-- The timeline: one row per state machine event. recorded_at is the server's time (it drives
-- the clock); occurred_at is when staff say it happened (事后补录 keeps the gap visible).
CREATE TABLE case_event (
    case_id       uuid NOT NULL REFERENCES cases (id),
    seq           integer NOT NULL,
    region_code   text NOT NULL,
    kind          text NOT NULL,
    details       jsonb NOT NULL,
    actor         text NOT NULL,
    actor_kind    text NOT NULL,
    department_id uuid,
    recorded_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    occurred_at   timestamptz NOT NULL,
    PRIMARY KEY (case_id, seq)
);

-- 代办员 authorisations: an applicant lets another account apply and act for them.
CREATE TABLE agent_authorisation (
    id            uuid PRIMARY KEY,
    grantor       text NOT NULL,
    agent         text NOT NULL,
    -- NULL: any item.
    item_code     text,
    valid_until   timestamptz NOT NULL,
    revoked_at    timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CHECK (grantor <> agent)
);
CREATE INDEX agent_authorisation_agent_idx ON agent_authorisation (agent);
CREATE INDEX agent_authorisation_grantor_idx ON agent_authorisation (grantor);

-- Public progress query: SMS codes sent to a case's phone (second factor), and failed tries
-- per client address (enumeration guard).
ALTER TABLE otp_code DROP CONSTRAINT otp_code_purpose_check;
ALTER TABLE otp_code ADD CONSTRAINT otp_code_purpose_check
    CHECK (purpose IN ('register', 'login', 'progress'));

CREATE TABLE progress_query_failure (
    client_ip   text NOT NULL,
    failed_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX progress_query_failure_ip_idx ON progress_query_failure (client_ip, failed_at DESC);

-- Notifications to applicants at every step that concerns them.
INSERT INTO notification_template (key, version, sms_body, push_title, push_body, variables, created_by) VALUES
('case.submitted', 1,
 '您申请的“{item}”已提交，我们会尽快审核。',
 '申请已提交', '您申请的“{item}”已提交，正在预审。',
 ARRAY['item'], 'migration'),
('case.correction_requested', 1,
 '您申请的“{item}”需补正材料：{missing}。请在指尖办一次性补齐。',
 '请补正材料', '“{item}”需补正：{missing}。请一次性补齐后提交。',
 ARRAY['item', 'missing'], 'migration'),
('case.accepted', 1,
 '您申请的“{item}”已受理，受理编号{acceptance_number}，承诺{deadline}前办结。',
 '已受理', '“{item}”已受理，受理编号{acceptance_number}，承诺{deadline}前办结。',
 ARRAY['item', 'acceptance_number', 'deadline'], 'migration'),
('case.rejected', 1,
 '您申请的“{item}”不予受理，理由：{reason}。',
 '不予受理', '“{item}”不予受理，理由：{reason}。',
 ARRAY['item', 'reason'], 'migration'),
('case.suspended', 1,
 '您的办件{acceptance_number}进入{special_step}环节，预计{expected_end}结束，期间不计入办理时限。',
 '办件进入特殊环节', '办件{acceptance_number}进入{special_step}，预计{expected_end}结束。',
 ARRAY['acceptance_number', 'special_step', 'expected_end'], 'migration'),
('case.resumed', 1,
 '您的办件{acceptance_number}{special_step}环节已结束，恢复计时。',
 '恢复办理', '办件{acceptance_number}{special_step}已结束，恢复计时。',
 ARRAY['acceptance_number', 'special_step'], 'migration'),
('case.extended', 1,
 '您的办件{acceptance_number}经批准延期至{new_deadline}办结，理由：{reason}。',
 '办理期限延长', '办件{acceptance_number}延期至{new_deadline}，理由：{reason}。',
 ARRAY['acceptance_number', 'new_deadline', 'reason'], 'migration'),
('case.approved', 1,
 '您的办件{acceptance_number}（{item}）已办结：准予许可。',
 '已办结：准予许可', '办件{acceptance_number}（{item}）准予许可。',
 ARRAY['acceptance_number', 'item'], 'migration'),
('case.denied', 1,
 '您的办件{acceptance_number}（{item}）已办结：不予许可，理由：{reasons}。{remedies}',
 '已办结：不予许可', '办件{acceptance_number}不予许可，理由：{reasons}。',
 ARRAY['acceptance_number', 'item', 'reasons', 'remedies'], 'migration'),
('case.terminated', 1,
 '您申请的“{item}”已终止办理，理由：{reason}。',
 '办件终止', '“{item}”已终止办理，理由：{reason}。',
 ARRAY['item', 'reason'], 'migration'),
('case.withdrawn', 1,
 '您申请的“{item}”已撤回。',
 '申请已撤回', '“{item}”已撤回。',
 ARRAY['item'], 'migration'),
('case.item_changed', 1,
 '您申请的“{item}”办事指南已更新（{changes}），您的办件仍按申请时的版本办理。',
 '办事指南已更新', '“{item}”已更新：{changes}。您的办件仍按原版本办理。',
 ARRAY['item', 'changes'], 'migration');
