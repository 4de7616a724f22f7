WITH norm AS (  -- the norm in force on the data's date (ref.care_rule assessment_norm_days)
    SELECT a.as_of, r.value::int AS days FROM register.int_as_of a
    JOIN ref.care_rule r ON r.rule = 'assessment_norm_days' AND a.as_of >= r.valid_from
     AND (r.valid_to IS NULL OR a.as_of <= r.valid_to)
)
SELECT w.register_id AS item_key, w.register_id, w.person_key, w.surname, w.first_name, w.patronymic, w.birth_date,
       coalesce(pw.oktmo, w.oktmo) AS oktmo, coalesce(m.name, w.municipality) AS municipality,
       pw.identified_date, pw.channel, n.as_of - pw.identified_date AS days_waiting,
       'нет оценки нуждаемости ' || (n.as_of - pw.identified_date) || ' дн. после выявления (норма ' || n.days
           || ' дн.)' AS reason,
       n.as_of
FROM register.int_person_pathway pw
CROSS JOIN norm n
JOIN register.int_worklist_person w USING (person_id)
LEFT JOIN ref.municipality m ON m.oktmo = pw.oktmo
WHERE pw.first_assessment IS NULL AND w.death_date IS NULL AND pw.identified_date <= n.as_of - n.days
