-- One row per supplement and calendar month in which it was in force, cut at the person's death
-- and at the end of the reported data (the last month with care reports); last_day is the last day
-- of the month the supplement was in force. Its own model, materialized, so that the joins with the
-- person's history in int_supplement_month are planned on its true size (DuckDB estimated a series
-- per supplement at a fiftieth of its rows, built hash tables on the twelve million months instead of
-- on the histories, and ran out of memory at a million persons).
CREATE VIEW register.int_supplement_grid AS
WITH bounded AS (
    SELECT s.supplement_id, s.person_id, s.care_level, s.minutes_per_week, s.provider_id, s.start_date,
           least(coalesce(s.end_date, 'infinity'::date), coalesce(p.death_date, 'infinity'::date),
                 (SELECT max(month) + interval '1 month' - interval '1 day' FROM register.cur_optima_care_report)::date) AS last_date
    FROM register.int_supplement s
    JOIN register.person p USING (person_id)
)
SELECT b.*, g.m::date AS month, least(b.last_date, (g.m + interval '1 month' - interval '1 day')::date) AS last_day
FROM bounded b
CROSS JOIN LATERAL generate_series(date_trunc('month', b.start_date), date_trunc('month', b.last_date),
                                   interval '1 month') AS g(m)
WHERE b.last_date >= b.start_date;
