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
