-- The application's one clock in SQL, versioned working-day calendars with their recompute
-- job, the operators' calendar warning, and back-filled steps (事后补录).

-- The clock (src/clock.rs): every connection carries the application clock's offset from the
-- system time in microseconds; these add it to PostgreSQL's own time. Unset (a psql session):
-- offset 0.
CREATE FUNCTION clock_offset() RETURNS interval LANGUAGE sql STABLE AS $$
    SELECT coalesce(nullif(current_setting('fingertip.clock_offset', true), '')::bigint, 0)
           * interval '1 microsecond'
$$;
-- The transaction's "now" on the application clock.
CREATE FUNCTION clock_now() RETURNS timestamptz LANGUAGE sql STABLE AS $$
    SELECT now() + clock_offset()
$$;
-- The very instant on the application clock (clock_timestamp() moved likewise).
CREATE FUNCTION clock_instant() RETURNS timestamptz LANGUAGE sql VOLATILE AS $$
    SELECT clock_timestamp() + clock_offset()
$$;

-- The capabilities whose dates are the law's dates (cases, the catalog, licences, the
-- calendar) stamp their rows on the application clock.
DO $$
DECLARE
    col record;
BEGIN
    FOR col IN
        SELECT table_name, column_name, column_default FROM information_schema.columns
         WHERE table_schema = current_schema()
           AND table_name IN ('material_file', 'cases', 'case_material', 'case_event',
                              'agent_authorisation', 'progress_query_failure', 'case_document',
                              'licence', 'licence_share', 'stored_file', 'item', 'item_version',
                              'calendar_year')
           AND column_default IN ('now()', 'clock_timestamp()')
    LOOP
        EXECUTE format('ALTER TABLE %I ALTER COLUMN %I SET DEFAULT %s', col.table_name,
                       col.column_name,
                       CASE col.column_default WHEN 'now()' THEN 'clock_now()'
                                               ELSE 'clock_instant()' END);
    END LOOP;
END $$;

-- Every version of every year's calendar, as loaded: the notice it came from and its dates.
-- The current one is mirrored in calendar_year / calendar_day, which the service reads.
ALTER TABLE calendar_year
    ADD COLUMN version integer NOT NULL DEFAULT 1,
    ADD COLUMN document_number text,
    ADD COLUMN notice_date date;

CREATE TABLE calendar_year_version (
    year            integer NOT NULL,
    version         integer NOT NULL CHECK (version >= 1),
    source          text NOT NULL,
    document_number text,
    notice_date     date,
    -- [{"date": "2027-01-01", "kind": "day_off", "note": "元旦"}, …]
    days            jsonb NOT NULL,
    loaded_by       text NOT NULL,
    loaded_at       timestamptz NOT NULL DEFAULT clock_now(),
    PRIMARY KEY (year, version)
);

INSERT INTO calendar_year_version (year, version, source, days, loaded_by, loaded_at)
SELECT y.year, 1, y.source,
       coalesce((SELECT jsonb_agg(jsonb_build_object('date', d.day, 'kind', d.kind, 'note', d.note)
                                  ORDER BY d.day)
                   FROM calendar_day d WHERE d.year = y.year), '[]'::jsonb),
       'migration', y.loaded_at
  FROM calendar_year y;

-- Recomputing open cases' deadlines after a year was loaded or corrected: one job per load,
-- worked through in case-id order; `after_case` is the last case done, committed with that
-- batch's timeline events and notices, so a crash resumes where it stopped and never tells
-- anybody twice. The year as it was is the previous version (none: it was provisional).
CREATE TABLE calendar_recompute_job (
    id            bigserial PRIMARY KEY,
    year          integer NOT NULL,
    version       integer NOT NULL,
    after_case    uuid,
    cases_seen    integer NOT NULL DEFAULT 0,
    cases_moved   integer NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL DEFAULT clock_now(),
    finished_at   timestamptz,
    FOREIGN KEY (year, version) REFERENCES calendar_year_version (year, version)
);
CREATE INDEX calendar_recompute_job_open_idx ON calendar_recompute_job (id)
    WHERE finished_at IS NULL;

-- The must-reach warning to platform admins when the official calendar reaches too little
-- ahead: one row per warning sent, so it goes at most once a week.
CREATE TABLE calendar_warning (
    sent_on              date PRIMARY KEY,
    working_days_ahead   integer NOT NULL,
    needed               integer NOT NULL,
    created_at           timestamptz NOT NULL DEFAULT clock_now()
);

-- Steps entered afterwards (事后补录) whose legal date lies more than one working day before
-- the day they were recorded: what e-supervision reads as its anomaly kind 8.
CREATE TABLE case_backfill (
    case_id             uuid NOT NULL REFERENCES cases (id),
    seq                 integer NOT NULL,
    region_code         text NOT NULL,
    kind                text NOT NULL,
    occurred_at         timestamptz NOT NULL,
    recorded_at         timestamptz NOT NULL,
    gap_working_days    integer NOT NULL,
    actor               text NOT NULL,
    PRIMARY KEY (case_id, seq)
);

-- Notices: the promised date says when it is provisional; a recomputed deadline is told to
-- the applicant and to the handlers; the calendar's edge is told to platform admins.
INSERT INTO notification_template (key, version, sms_body, push_title, push_body, email_subject, email_body, variables, created_by) VALUES
('case.accepted', 3,
 '您申请的“{item}”已受理，受理编号{acceptance_number}，承诺{deadline}前办结{deadline_basis}。受理通知书：{document_url}',
 '已受理', '“{item}”已受理，受理编号{acceptance_number}，承诺{deadline}前办结{deadline_basis}。',
 NULL, NULL,
 ARRAY['item', 'acceptance_number', 'deadline', 'deadline_basis', 'document_url'], 'migration'),
('case.extended', 2,
 '您的办件{acceptance_number}经批准延期至{new_deadline}办结{deadline_basis}，理由：{reason}。',
 '办理期限延长', '办件{acceptance_number}延期至{new_deadline}{deadline_basis}，理由：{reason}。',
 NULL, NULL,
 ARRAY['acceptance_number', 'new_deadline', 'deadline_basis', 'reason'], 'migration'),
('case.deadline_recomputed', 1,
 '根据国务院公布的{year}年节假日安排，您的办件{acceptance_number}办结期限由{old_deadline}调整为{new_deadline}{deadline_basis}。',
 '办结期限调整', '办件{acceptance_number}办结期限由{old_deadline}调整为{new_deadline}{deadline_basis}。',
 NULL, NULL,
 ARRAY['year', 'acceptance_number', 'old_deadline', 'new_deadline', 'deadline_basis'], 'migration'),
('staff.deadline_recomputed', 1,
 '办件{acceptance_number}（{item}）按{year}年节假日安排重新计算，办结期限由{old_deadline}调整为{new_deadline}。',
 '办件期限调整', '办件{acceptance_number}（{item}）办结期限由{old_deadline}调整为{new_deadline}。',
 '办件期限调整：{acceptance_number}',
 '办件{acceptance_number}（{item}）按{year}年节假日安排重新计算，办结期限由{old_deadline}调整为{new_deadline}{deadline_basis}。',
 ARRAY['year', 'acceptance_number', 'item', 'old_deadline', 'new_deadline', 'deadline_basis'], 'migration'),
('admin.calendar_edge', 1,
 '工作日历仅覆盖今后{working_days_ahead}个工作日，少于最长承诺时限加30个工作日（{needed}个）。请尽快录入国务院公布的{next_year}年节假日安排。',
 '请录入节假日安排', '工作日历仅覆盖今后{working_days_ahead}个工作日（需{needed}个），请录入{next_year}年节假日安排。',
 '请录入{next_year}年节假日安排',
 '工作日历仅覆盖今后{working_days_ahead}个工作日，少于最长承诺时限加30个工作日（{needed}个）。在录入国务院公布的{next_year}年节假日安排之前，跨入该年的办结期限暂按周一至周五为工作日计算。请通过 PUT /api/v1/admin/calendar/{next_year} 录入。',
 ARRAY['working_days_ahead', 'needed', 'next_year'], 'migration');

-- The versions the migration kept were in force before the job existed: nothing to recompute.
INSERT INTO calendar_recompute_job (year, version, finished_at)
SELECT year, version, clock_now() FROM calendar_year_version;
