WITH last_month AS (
    SELECT max(month) AS month FROM register.int_package_month
), share AS (  -- the threshold in force in that month (ref.care_rule, sql/seeds/care_rule.csv)
    SELECT r.value::numeric(12, 6) AS value FROM ref.care_rule r JOIN last_month lm
        ON r.rule = 'under_delivery_share' AND lm.month >= r.valid_from AND (r.valid_to IS NULL OR lm.month <= r.valid_to)
), rm AS (
    SELECT pm.person_id, pm.provider_id, sum(pm.assigned_minutes)::bigint AS assigned,
           sum(pm.delivered_minutes)::bigint AS delivered
    FROM register.int_package_month pm JOIN last_month lm ON pm.month = lm.month
    GROUP BY pm.person_id, pm.provider_id
)
SELECT p.register_id || '/' || coalesce(rm.provider_id, '-') AS item_key,
       p.register_id, k.person_key, p.surname, p.first_name, p.patronymic, p.birth_date,
       coalesce(p.oktmo, '00000000') AS oktmo, coalesce(m.name, 'не указан') AS municipality,
       lm.month, rm.provider_id, rm.assigned::int AS assigned_minutes, rm.delivered::int AS delivered_minutes,
       CASE WHEN rm.assigned > 0   -- rounded in integers, as in mart_package_execution_recipient
            THEN round(((2000 * rm.delivered + rm.assigned) / (2 * rm.assigned))::numeric / 1000, 3)
       END AS delivery_ratio,
       'оказано ' || rm.delivered || ' из ' || rm.assigned || ' мин за ' || substr(CAST(lm.month AS varchar), 1, 7)
           || coalesce(' (поставщик ' || rm.provider_id || ')', '') AS reason
FROM rm
CROSS JOIN last_month lm
CROSS JOIN share
JOIN register.person p USING (person_id)
JOIN register.int_person_key k USING (person_id)
LEFT JOIN ref.municipality m ON m.oktmo = p.oktmo
WHERE rm.delivered < share.value * rm.assigned
