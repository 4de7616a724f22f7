WITH received AS (
    SELECT date_trunc('month', received_date)::date AS month, coalesce(oktmo, '00000000') AS oktmo, channel,
           count(*)::int AS received
    FROM register.int_identification
    GROUP BY 1, 2, 3
), funnel AS (
    SELECT date_trunc('month', identified_date)::date AS month, coalesce(oktmo, '00000000') AS oktmo, channel,
           count(*)::int AS identified,
           count(first_assessment)::int AS assessed,
           count(*) FILTER (WHERE first_level = 1)::int AS recognised_level_1,
           count(*) FILTER (WHERE first_level = 2)::int AS recognised_level_2,
           count(*) FILTER (WHERE first_level = 3)::int AS recognised_level_3,
           count(*) FILTER (WHERE first_assessment IS NOT NULL AND first_level IS NULL)::int AS not_needing,
           count(first_contract)::int AS contracted,
           count(first_package_day)::int AS receiving,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY first_assessment - identified_date) AS median_days_to_assessment,
           percentile_cont(0.9) WITHIN GROUP (ORDER BY first_assessment - identified_date) AS p90_days_to_assessment,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY first_package_day - identified_date) AS median_days_to_service,
           percentile_cont(0.9) WITHIN GROUP (ORDER BY first_package_day - identified_date) AS p90_days_to_service
    FROM register.int_person_pathway
    GROUP BY 1, 2, 3
)
SELECT month, oktmo, coalesce(m.name, 'не указан') AS municipality, channel,
       coalesce(r.received, 0) AS received, coalesce(f.identified, 0) AS identified,
       coalesce(f.assessed, 0) AS assessed, coalesce(f.recognised_level_1, 0) AS recognised_level_1,
       coalesce(f.recognised_level_2, 0) AS recognised_level_2, coalesce(f.recognised_level_3, 0) AS recognised_level_3,
       coalesce(f.not_needing, 0) AS not_needing, coalesce(f.contracted, 0) AS contracted,
       coalesce(f.receiving, 0) AS receiving,
       f.median_days_to_assessment, f.p90_days_to_assessment, f.median_days_to_service, f.p90_days_to_service
FROM received r
FULL JOIN funnel f USING (month, oktmo, channel)
LEFT JOIN ref.municipality m USING (oktmo)
