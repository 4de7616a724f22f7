WITH last_month AS (
    SELECT max(month) AS month FROM register.int_package_month
), rm AS (
    SELECT pm.person_id, pm.provider_id, sum(pm.assigned_minutes)::bigint AS assigned,
           sum(pm.delivered_minutes)::bigint AS delivered
    FROM register.int_package_month pm JOIN last_month lm ON pm.month = lm.month
    GROUP BY pm.person_id, pm.provider_id
)
SELECT p.register_id, k.person_key, p.surname, p.first_name, p.patronymic, p.birth_date,
       coalesce(p.oktmo, '00000000') AS oktmo, coalesce(m.name, 'не указан') AS municipality,
       lm.month, rm.provider_id, rm.assigned::int AS assigned_minutes, rm.delivered::int AS delivered_minutes,
       CASE WHEN rm.assigned > 0   -- rounded in integers, as in mart_package_execution_recipient
            THEN round(((2000 * rm.delivered + rm.assigned) / (2 * rm.assigned))::numeric / 1000, 3)
       END AS delivery_ratio
FROM rm
CROSS JOIN last_month lm
JOIN register.person p USING (person_id)
JOIN register.int_person_key k USING (person_id)
LEFT JOIN ref.municipality m ON m.oktmo = p.oktmo
WHERE rm.delivered < (SELECT value::numeric(12, 6) FROM ref.setting WHERE key = 'under_delivery_share') * rm.assigned
