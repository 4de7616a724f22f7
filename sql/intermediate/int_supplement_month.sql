-- One row per supplement and calendar month in which it was in force, cut at the person's death.
CREATE OR REPLACE VIEW register.int_supplement_month AS
WITH sup AS (
    SELECT DISTINCT ON (s.supplement_id) s.*
    FROM staging.optima_supplement s
    ORDER BY s.supplement_id, s.batch_id DESC, s.stg_id DESC
), bounded AS (
    SELECT sup.supplement_id, rp.person_id, rp.oktmo, sup.care_level, sup.minutes_per_week, sup.start_date,
           least(coalesce(sup.end_date, 'infinity'::date), coalesce(p.death_date, 'infinity'::date),
                 (SELECT max(month) + interval '1 month - 1 day' FROM staging.optima_care_report)::date) AS last_date
    FROM sup
    JOIN register.int_recipient_person rp USING (recipient_id)
    JOIN register.person p ON p.person_id = rp.person_id
)
SELECT b.supplement_id, b.person_id, b.oktmo, b.care_level, b.minutes_per_week, b.start_date, b.last_date,
       m::date AS month
FROM bounded b
CROSS JOIN LATERAL generate_series(date_trunc('month', b.start_date), date_trunc('month', b.last_date),
                                   interval '1 month') AS m
WHERE b.last_date >= b.start_date;
