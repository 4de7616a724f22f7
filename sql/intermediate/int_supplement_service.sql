WITH c AS (  -- a supplement's services are the set of the export that carried its latest service rows
    SELECT c.*, dense_rank() OVER (PARTITION BY c.supplement_id ORDER BY c.version_at DESC, c.batch_id DESC) AS n
    FROM register.cur_optima_supplement_service c
)
SELECT c.supplement_id, c.service_code, cs.name_ru AS service_name, cs.care_group,
       s.care_level, s.start_date, s.minutes_per_week AS supplement_minutes_per_week,
       c.visits_per_day, c.days_per_week, cs.standard_minutes,
       coalesce(c.minutes_per_visit, cs.standard_minutes) AS minutes_per_visit,
       c.visits_per_day * c.days_per_week * cs.standard_minutes AS standard_minutes_per_week,
       c.visits_per_day * c.days_per_week * coalesce(c.minutes_per_visit, cs.standard_minutes) AS minutes_per_week,
       cs.code IS NOT NULL AS in_catalogue
FROM c
JOIN register.cur_optima_supplement s USING (supplement_id)
-- the catalogue's entry in force on the day the supplement starts
LEFT JOIN ref.care_service cs ON cs.code = c.service_code AND s.start_date >= cs.valid_from
     AND (cs.valid_to IS NULL OR s.start_date <= cs.valid_to)
WHERE c.n < 2
