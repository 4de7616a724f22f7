-- Grain: month × recipient (pseudonymous person_key) × provider. Minutes of the social package
-- assigned by the supplements in force against minutes the care assistants reported delivered;
-- under_delivered when delivered is below ref.setting 'under_delivery_share' of assigned.
SELECT pm.month, k.person_key, coalesce(pm.oktmo, '00000000') AS oktmo, pm.provider_id, max(pm.care_level) AS care_level,
       sum(pm.assigned_minutes)::int AS assigned_minutes, sum(pm.delivered_minutes)::int AS delivered_minutes,
       round(sum(pm.delivered_minutes) / nullif(sum(pm.assigned_minutes), 0), 3) AS delivery_ratio,
       sum(pm.delivered_minutes) < (SELECT value::numeric FROM ref.setting WHERE key = 'under_delivery_share')
           * sum(pm.assigned_minutes) AS under_delivered
FROM register.int_package_month pm
JOIN register.int_person_key k USING (person_id)
GROUP BY pm.month, k.person_key, pm.oktmo, pm.provider_id
