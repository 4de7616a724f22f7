-- One row per supplement and calendar month in which it was in force, cut at the person's death
-- and at the end of the reported data (the last month with care reports).
CREATE VIEW register.int_supplement_month AS
WITH bounded AS (
    SELECT s.supplement_id, s.person_id, s.oktmo, s.care_level, s.minutes_per_week, s.provider_id, s.start_date,
           least(coalesce(s.end_date, 'infinity'::date), coalesce(p.death_date, 'infinity'::date),
                 (SELECT max(month) + interval '1 month' - interval '1 day' FROM staging.optima_care_report)::date) AS last_date
    FROM register.int_supplement s
    JOIN register.person p USING (person_id)
)
SELECT b.supplement_id, b.person_id, b.oktmo, b.care_level, b.minutes_per_week, b.provider_id, b.start_date,
       b.last_date,
       m::date AS month
FROM bounded b
CROSS JOIN LATERAL generate_series(date_trunc('month', b.start_date), date_trunc('month', b.last_date),
                                   interval '1 month') AS g(m)
WHERE b.last_date >= b.start_date;
