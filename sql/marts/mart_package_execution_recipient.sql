WITH g AS (
    SELECT month, person_id, coalesce(oktmo, '00000000') AS oktmo, provider_id, max(care_level) AS care_level,
           sum(assigned_minutes)::bigint AS assigned, sum(delivered_minutes)::bigint AS delivered,
           sum(hospital_days)::int AS hospital_days, sum(hospital_minutes)::bigint AS hospital_minutes
    FROM register.int_package_month
    GROUP BY month, person_id, oktmo, provider_id
)
SELECT g.month, k.person_key, g.oktmo, g.provider_id, g.care_level,
       g.assigned::int AS assigned_minutes, g.delivered::int AS delivered_minutes, g.hospital_days,
       g.hospital_minutes::int AS hospital_minutes,
       CASE WHEN g.assigned > 0
            THEN round(((2000 * g.delivered + g.assigned) / (2 * g.assigned))::numeric / 1000, 3)
       END AS delivery_ratio,
       g.delivered < r.value::numeric(12, 6) * g.assigned AS under_delivered
FROM g
JOIN register.int_person_key k USING (person_id)
LEFT JOIN ref.care_rule r  -- the threshold in force in the month (a month no rule covers: not judged)
    ON r.rule = 'under_delivery_share' AND g.month >= r.valid_from AND (r.valid_to IS NULL OR g.month <= r.valid_to)
