WITH ltc AS (
    SELECT date_part('year', month)::int AS year, coalesce(oktmo, '00000000') AS oktmo,
           count(DISTINCT person_id)::int AS ltc_persons
    FROM register.int_supplement_month
    GROUP BY 1, 2
)
SELECT l.year, l.oktmo, coalesce(m.name, 'не указан') AS municipality, l.ltc_persons,
       b.persons AS persons_needing_social_services,
       -- (the share rounded in integers and compared by multiplication: exact on both engines)
       round(((20000 * l.ltc_persons::bigint + b.persons) / (2 * b.persons))::numeric / 100, 2) AS coverage_share,
       t.target_share,
       CASE WHEN b.persons IS NULL OR t.target_share IS NULL THEN NULL
            ELSE 100 * l.ltc_persons >= t.target_share * b.persons END AS meets_target,
       CASE WHEN b.persons IS NULL THEN 'нет базы в ref.coverage_base' ELSE 'база: ' || b.note END AS base_source
FROM ltc l
LEFT JOIN ref.coverage_base b ON b.year = l.year AND b.oktmo = l.oktmo
LEFT JOIN ref.coverage_target t ON t.year = l.year
LEFT JOIN ref.municipality m ON m.oktmo = l.oktmo
