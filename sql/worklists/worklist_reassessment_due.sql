WITH as_of AS (
    SELECT max(month + interval '1 month' - interval '1 day')::date AS d FROM register.int_supplement_month
), receiving AS (
    SELECT DISTINCT sm.person_id FROM register.int_supplement_month sm, as_of WHERE sm.month = date_trunc('month', as_of.d)
), last_assessment AS (
    SELECT rp.person_id, max(a.assessment_date) AS d
    FROM register.int_assessment a JOIN register.int_recipient_person rp USING (recipient_id)
    GROUP BY rp.person_id
), last_hospitalisation AS (
    SELECT l.person_id, max(e.start_date) AS d
    FROM register.cur_health_medical_event e
    JOIN register.person_link l ON l.entity = 'health_medical_event' AND l.stg_id = e.stg_id
    WHERE e.event_type = 'hospitalisation'
    GROUP BY l.person_id
), months AS (  -- the notice period in force on the as-of day (ref.care_rule)
    SELECT r.value::int AS n FROM ref.care_rule r, as_of
    WHERE r.rule = 'reassessment_notice_months' AND as_of.d >= r.valid_from AND (r.valid_to IS NULL OR as_of.d <= r.valid_to)
)
SELECT p.register_id AS item_key, p.register_id, k.person_key, p.surname, p.first_name, p.patronymic, p.birth_date,
       coalesce(p.oktmo, '00000000') AS oktmo, coalesce(m.name, 'не указан') AS municipality,
       la.d AS last_assessment_date, as_of.d - la.d AS days_since_assessment, lh.d AS last_hospitalisation_date,
       CASE WHEN la.d IS NULL THEN 'нет оценки нуждаемости'
            WHEN la.d < as_of.d - months.n * interval '1 month' THEN 'оценка старше ' || months.n || ' мес.'
            ELSE 'госпитализация после оценки' END AS reason,
       as_of.d AS as_of
FROM receiving r
JOIN register.person p USING (person_id)
JOIN register.int_person_key k USING (person_id)
CROSS JOIN as_of CROSS JOIN months
LEFT JOIN last_assessment la USING (person_id)
LEFT JOIN last_hospitalisation lh USING (person_id)
LEFT JOIN ref.municipality m ON m.oktmo = p.oktmo
WHERE p.death_date IS NULL
  AND (la.d IS NULL OR la.d < as_of.d - months.n * interval '1 month' OR lh.d > la.d)
