SELECT w.register_id || '/' || s.supplement_id AS item_key, w.register_id, w.person_key, w.surname, w.first_name,
       w.patronymic, w.birth_date, w.oktmo, w.municipality, w.death_date, s.supplement_id, s.provider_id,
       s.end_date,
       CASE WHEN EXISTS (SELECT 1 FROM register.cur_optima_care_report r WHERE r.supplement_id = s.supplement_id
                         AND r.month > date_trunc('month', w.death_date) AND r.minutes_delivered > 0)
            THEN 'умер(ла) по сведениям ЗАГС ' || w.death_date || ', уход отчитан после месяца смерти'
            ELSE 'умер(ла) по сведениям ЗАГС ' || w.death_date || ', дополнение к ИППСУ не закрыто' END AS reason,
       a.as_of
FROM register.int_supplement s
CROSS JOIN register.int_as_of a
JOIN register.int_worklist_person w USING (person_id)
WHERE w.death_date IS NOT NULL
  AND ((s.end_date IS NULL OR s.end_date > w.death_date)
       OR EXISTS (SELECT 1 FROM register.cur_optima_care_report r WHERE r.supplement_id = s.supplement_id
                  AND r.month > date_trunc('month', w.death_date) AND r.minutes_delivered > 0))
