-- Grain: month × provider × municipality. The supplement's execution by each provider: recipients
-- served, minutes assigned and delivered, recipients under-delivered. Rolled up from the recipient
-- mart of the same build (built just before it: sqlmodels.MARTS order), not from the person-months.
SELECT month, coalesce(provider_id, 'не указан') AS provider_id, oktmo,
       count(*)::int AS recipients, sum(assigned_minutes)::bigint AS assigned_minutes,
       sum(delivered_minutes)::bigint AS delivered_minutes,
       round(sum(delivered_minutes)::numeric / nullif(sum(assigned_minutes), 0), 3) AS delivery_ratio,
       count(*) FILTER (WHERE under_delivered)::int AS under_delivered_recipients
FROM build.mart_package_execution_recipient
GROUP BY month, provider_id, oktmo
