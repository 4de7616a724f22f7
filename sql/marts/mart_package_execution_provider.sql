WITH p AS (
    SELECT month, coalesce(provider_id, 'не указан') AS provider_id, oktmo,
           count(*)::int AS recipients, sum(assigned_minutes)::bigint AS assigned_minutes,
           sum(delivered_minutes)::bigint AS delivered_minutes,
           count(*) FILTER (WHERE under_delivered)::int AS under_delivered_recipients,
           sum(hospital_days)::int AS hospital_days, sum(hospital_minutes)::bigint AS hospital_minutes
    FROM build.mart_package_execution_recipient
    GROUP BY month, provider_id, oktmo
)
SELECT month, provider_id, oktmo, recipients, assigned_minutes, delivered_minutes, hospital_days, hospital_minutes,
       CASE WHEN assigned_minutes > 0
            THEN round(((2000 * delivered_minutes + assigned_minutes) / (2 * assigned_minutes))::numeric / 1000, 3)
       END AS delivery_ratio,
       under_delivered_recipients
FROM p
