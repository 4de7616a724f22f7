SELECT w.register_id || '/' || pm.supplement_id AS item_key, w.register_id, w.person_key, w.surname, w.first_name,
       w.patronymic, w.birth_date, w.oktmo, w.municipality, pm.month, pm.supplement_id, pm.provider_id,
       pm.assigned_minutes,
       'нет отчёта помощника за ' || substr(CAST(pm.month AS varchar), 1, 7) || ' (назначено ' || pm.assigned_minutes || ' мин)'
           AS reason,
       a.as_of
FROM register.int_package_month pm
CROSS JOIN register.int_as_of a
JOIN register.int_worklist_person w USING (person_id)
WHERE pm.month = date_trunc('month', a.as_of) AND pm.assigned_minutes > 0
  AND NOT EXISTS (SELECT 1 FROM register.cur_optima_care_report r
                  WHERE r.supplement_id = pm.supplement_id AND r.month = pm.month)
