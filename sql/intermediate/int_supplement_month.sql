-- One row per supplement and calendar month in which it was in force, cut at the person's death
-- and at the end of the reported data (the last month with care reports). Each month is attributed to
-- where and what the person was in it: the municipality in force on the supplement's last day in the
-- month (int_person_place) and the care level of the assessment in force then (int_person_level),
-- the supplement's own level where no assessment recognised one.
CREATE VIEW register.int_supplement_month AS
WITH bounded AS (
    SELECT s.supplement_id, s.person_id, s.care_level, s.minutes_per_week, s.provider_id, s.start_date,
           least(coalesce(s.end_date, 'infinity'::date), coalesce(p.death_date, 'infinity'::date),
                 (SELECT max(month) + interval '1 month' - interval '1 day' FROM register.cur_optima_care_report)::date) AS last_date
    FROM register.int_supplement s
    JOIN register.person p USING (person_id)
), months AS (
    SELECT b.*, m::date AS month,
           least(b.last_date, (m + interval '1 month' - interval '1 day')::date) AS last_day
    FROM bounded b
    CROSS JOIN LATERAL generate_series(date_trunc('month', b.start_date), date_trunc('month', b.last_date),
                                       interval '1 month') AS g(m)
    WHERE b.last_date >= b.start_date
)
SELECT m.supplement_id, m.person_id, pl.oktmo, coalesce(lv.care_level, m.care_level) AS care_level,
       m.care_level AS supplement_care_level, m.minutes_per_week, m.provider_id, m.start_date, m.last_date, m.month
FROM months m
LEFT JOIN register.int_person_place pl
       ON pl.person_id = m.person_id AND m.last_day >= pl.valid_from AND m.last_day < pl.valid_to
LEFT JOIN register.int_person_level lv
       ON lv.person_id = m.person_id AND m.last_day >= lv.valid_from AND m.last_day < lv.valid_to;
