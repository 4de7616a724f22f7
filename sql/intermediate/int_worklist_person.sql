SELECT p.person_id, p.register_id, k.person_key, p.surname, p.first_name, p.patronymic, p.birth_date,
       coalesce(p.oktmo, '00000000') AS oktmo, coalesce(m.name, 'не указан') AS municipality, p.death_date
FROM register.person p
JOIN register.int_person_key k USING (person_id)
LEFT JOIN ref.municipality m ON m.oktmo = p.oktmo
WHERE p.status = 'active'
