SELECT w.register_id AS item_key, w.register_id, w.person_key, w.surname, w.first_name, w.patronymic, w.birth_date,
       w.oktmo, w.municipality, h.admitted, a.as_of - h.admitted AS days_in_hospital,
       'в стационаре с ' || h.admitted || ' (' || (a.as_of - h.admitted) || ' дн.): уход на дому приостановлен' AS reason,
       a.as_of
FROM register.int_hospital_stay h
CROSS JOIN register.int_as_of a
JOIN register.int_worklist_person w USING (person_id)
WHERE h.admitted <= a.as_of AND h.left_on > a.as_of AND w.death_date IS NULL
  AND EXISTS (SELECT 1 FROM register.int_supplement s WHERE s.person_id = h.person_id
              AND s.start_date <= a.as_of AND (s.end_date IS NULL OR s.end_date >= a.as_of))
