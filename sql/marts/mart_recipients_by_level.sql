WITH pm AS (
    SELECT person_id, oktmo, month, max(care_level) AS care_level
    FROM register.int_supplement_month
    GROUP BY person_id, oktmo, month
), bounds AS (
    SELECT person_id, min(month) AS first_month, max(month) AS last_month
    FROM pm GROUP BY person_id
), data_end AS (
    SELECT max(month) AS month FROM pm
), reason AS (
    SELECT b.person_id,
           CASE WHEN p.death_date IS NOT NULL THEN 'death'
                WHEN bool_or(st.exit_reason = 'refusal') THEN 'refusal' ELSE 'other' END AS exit_reason
    FROM bounds b
    JOIN register.person p USING (person_id)
    LEFT JOIN register.int_person_status st
           ON st.person_id = b.person_id AND st.status = 'exited' AND st.valid_to > b.last_month
    GROUP BY b.person_id, p.death_date
)
SELECT pm.month, coalesce(pm.oktmo, '00000000') AS oktmo, coalesce(m.name, 'не указан') AS municipality,
       pm.care_level,
       count(*)::int AS recipients,
       count(*) FILTER (WHERE pm.month = b.first_month)::int AS entered,
       count(*) FILTER (WHERE pm.month = b.last_month AND pm.month < d.month)::int AS exited,
       count(*) FILTER (WHERE pm.month = b.last_month AND pm.month < d.month AND x.exit_reason = 'death')::int
           AS exited_death,
       count(*) FILTER (WHERE pm.month = b.last_month AND pm.month < d.month AND x.exit_reason = 'refusal')::int
           AS exited_refusal,
       count(*) FILTER (WHERE pm.month = b.last_month AND pm.month < d.month AND x.exit_reason = 'other')::int
           AS exited_other
FROM pm
JOIN bounds b USING (person_id)
JOIN reason x USING (person_id)
CROSS JOIN data_end d
LEFT JOIN ref.municipality m ON m.oktmo = pm.oktmo
GROUP BY pm.month, pm.oktmo, m.name, pm.care_level
