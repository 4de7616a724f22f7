-- Grain: month × provider × municipality. The supplement's execution by each provider: recipients
-- served, minutes assigned and delivered, recipients under-delivered (see the recipient mart).
WITH rm AS (
    SELECT month, person_id, oktmo, provider_id, sum(assigned_minutes) AS assigned, sum(delivered_minutes) AS delivered
    FROM register.int_package_month
    GROUP BY month, person_id, oktmo, provider_id
)
SELECT month, coalesce(provider_id, 'не указан') AS provider_id, coalesce(oktmo, '00000000') AS oktmo,
       count(*)::int AS recipients, sum(assigned)::bigint AS assigned_minutes, sum(delivered)::bigint AS delivered_minutes,
       round(sum(delivered) / nullif(sum(assigned), 0), 3) AS delivery_ratio,
       count(*) FILTER (WHERE delivered < (SELECT value::numeric FROM ref.setting WHERE key = 'under_delivery_share')
                                          * assigned)::int AS under_delivered_recipients
FROM rm
GROUP BY month, provider_id, oktmo
