WITH notice AS (
    SELECT a.as_of, r.value::int AS days FROM register.int_as_of a
    JOIN ref.care_rule r ON r.rule = 'supplement_expiry_notice_days' AND a.as_of >= r.valid_from
     AND (r.valid_to IS NULL OR a.as_of <= r.valid_to)
)
SELECT w.register_id || '/' || s.supplement_id AS item_key, w.register_id, w.person_key, w.surname, w.first_name,
       w.patronymic, w.birth_date, w.oktmo, w.municipality, s.supplement_id, s.care_level, s.end_date,
       s.end_date - n.as_of AS days_left,
       'дополнение к ИППСУ заканчивается ' || s.end_date || ' (через ' || (s.end_date - n.as_of) || ' дн.)' AS reason,
       n.as_of
FROM register.int_supplement s
CROSS JOIN notice n
JOIN register.int_worklist_person w USING (person_id)
WHERE s.end_date > n.as_of AND s.end_date <= n.as_of + n.days AND w.death_date IS NULL
