WITH cards AS (
    SELECT rp.person_id, string_agg(DISTINCT coalesce(pc.name_ru, trim(c.code)), '; ' ORDER BY coalesce(pc.name_ru, trim(c.code))) AS categories
    FROM register.int_recipient_person rp
    CROSS JOIN LATERAL unnest(string_to_array(rp.priority_category, ';')) AS c(code)
    LEFT JOIN ref.priority_category pc ON pc.code = trim(c.code)
    WHERE trim(c.code) <> ''
    GROUP BY rp.person_id
)
SELECT w.register_id AS item_key, w.register_id, w.person_key, w.surname, w.first_name, w.patronymic, w.birth_date,
       coalesce(pw.oktmo, w.oktmo) AS oktmo, coalesce(m.name, w.municipality) AS municipality, c.categories,
       pw.identified_date, a.as_of - pw.identified_date AS days_waiting,
       'преимущественное право (' || c.categories || '): ожидает ' || (a.as_of - pw.identified_date)
           || ' дн. с выявления' AS reason,
       a.as_of
FROM cards c
CROSS JOIN register.int_as_of a
JOIN register.int_person_pathway pw USING (person_id)
JOIN register.int_worklist_person w USING (person_id)
LEFT JOIN ref.municipality m ON m.oktmo = pw.oktmo
WHERE w.death_date IS NULL AND pw.first_package_day IS NULL
  AND NOT EXISTS (SELECT 1 FROM register.int_person_status st WHERE st.person_id = c.person_id
                  AND st.status IN ('exited', 'not_needing') AND st.valid_to > a.as_of)
