SELECT w.register_id AS item_key, w.register_id, w.person_key, w.surname, w.first_name, w.patronymic, w.birth_date,
       coalesce(pw.oktmo, w.oktmo) AS oktmo, coalesce(m.name, w.municipality) AS municipality,
       pw.first_recognition, pw.first_level, pw.first_contract, pw.first_package_day,
       CASE WHEN pw.first_package_day IS NULL AND pw.first_contract IS NULL
                THEN 'признан нуждающимся (уровень ' || pw.first_level || '), нет дополнения к ИППСУ и договора'
            WHEN pw.first_package_day IS NULL THEN 'признан нуждающимся (уровень ' || pw.first_level || '), нет дополнения к ИППСУ'
            ELSE 'есть дополнение к ИППСУ, нет договора' END AS reason,
       a.as_of
FROM register.int_person_pathway pw
CROSS JOIN register.int_as_of a
JOIN register.int_worklist_person w USING (person_id)
LEFT JOIN ref.municipality m ON m.oktmo = pw.oktmo
WHERE pw.first_recognition IS NOT NULL AND w.death_date IS NULL
  AND (pw.first_package_day IS NULL OR pw.first_contract IS NULL)
