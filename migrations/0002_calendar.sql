-- Working-day calendar (工作日): per year, the official days off and adjusted working days
-- (调休上班). Every other Saturday and Sunday is off and every other weekday is a working day;
-- a date in a year with no calendar_year row is never guessed.
--
-- Data from the State Council General Office (国务院办公厅) holiday notices:
--   2025: 国务院办公厅关于2025年部分节假日安排的通知（国办发明电〔2024〕12号）
--         days off 1/1; 1/28–2/4; 4/4–4/6; 5/1–5/5; 5/31–6/2; 10/1–10/8
--         adjusted working days 1/26 (Sun), 2/8 (Sat), 4/27 (Sun), 9/28 (Sun), 10/11 (Sat)
--   2026: 国务院办公厅关于2026年部分节假日安排的通知（2025年11月4日）
--         days off 1/1–1/3; 2/15–2/23; 4/4–4/6; 5/1–5/5; 6/19–6/21; 9/25–9/27; 10/1–10/7
--         adjusted working days 1/4 (Sun), 2/14 (Sat), 2/28 (Sat), 5/9 (Sat), 9/20 (Sun), 10/10 (Sat)
-- This data mirrors official_2025() / official_2026() in src/calendar/model.rs.

CREATE TABLE calendar_year (
    year        integer PRIMARY KEY,
    source      text NOT NULL,
    loaded_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE calendar_day (
    day         date PRIMARY KEY,
    year        integer NOT NULL REFERENCES calendar_year (year) ON DELETE CASCADE,
    kind        text NOT NULL CHECK (kind IN ('day_off', 'adjusted_working_day')),
    note        text,
    CHECK (extract(year FROM day) = year)
);

INSERT INTO calendar_year (year, source) VALUES
    (2025, '国务院办公厅关于2025年部分节假日安排的通知（国办发明电〔2024〕12号）'),
    (2026, '国务院办公厅关于2026年部分节假日安排的通知（2025年11月4日）');

-- Days off, as the notices' inclusive ranges (weekends inside a range included).
INSERT INTO calendar_day (day, year, kind, note)
SELECT g.day::date, v.year, 'day_off', v.note
FROM (VALUES
    (2025, DATE '2025-01-01', DATE '2025-01-01', '元旦'),
    (2025, DATE '2025-01-28', DATE '2025-02-04', '春节'),
    (2025, DATE '2025-04-04', DATE '2025-04-06', '清明节'),
    (2025, DATE '2025-05-01', DATE '2025-05-05', '劳动节'),
    (2025, DATE '2025-05-31', DATE '2025-06-02', '端午节'),
    (2025, DATE '2025-10-01', DATE '2025-10-08', '国庆节、中秋节'),
    (2026, DATE '2026-01-01', DATE '2026-01-03', '元旦'),
    (2026, DATE '2026-02-15', DATE '2026-02-23', '春节'),
    (2026, DATE '2026-04-04', DATE '2026-04-06', '清明节'),
    (2026, DATE '2026-05-01', DATE '2026-05-05', '劳动节'),
    (2026, DATE '2026-06-19', DATE '2026-06-21', '端午节'),
    (2026, DATE '2026-09-25', DATE '2026-09-27', '中秋节'),
    (2026, DATE '2026-10-01', DATE '2026-10-07', '国庆节')
) AS v (year, first_day, last_day, note)
CROSS JOIN LATERAL generate_series(
    v.first_day::timestamp, v.last_day::timestamp, interval '1 day'
) AS g (day);

-- Adjusted working days (调休上班): Saturdays or Sundays worked in exchange.
INSERT INTO calendar_day (day, year, kind, note) VALUES
    (DATE '2025-01-26', 2025, 'adjusted_working_day', '调休上班'),
    (DATE '2025-02-08', 2025, 'adjusted_working_day', '调休上班'),
    (DATE '2025-04-27', 2025, 'adjusted_working_day', '调休上班'),
    (DATE '2025-09-28', 2025, 'adjusted_working_day', '调休上班'),
    (DATE '2025-10-11', 2025, 'adjusted_working_day', '调休上班'),
    (DATE '2026-01-04', 2026, 'adjusted_working_day', '调休上班'),
    (DATE '2026-02-14', 2026, 'adjusted_working_day', '调休上班'),
    (DATE '2026-02-28', 2026, 'adjusted_working_day', '调休上班'),
    (DATE '2026-05-09', 2026, 'adjusted_working_day', '调休上班'),
    (DATE '2026-09-20', 2026, 'adjusted_working_day', '调休上班'),
    (DATE '2026-10-10', 2026, 'adjusted_working_day', '调休上班');
