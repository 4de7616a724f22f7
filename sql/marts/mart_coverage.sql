WITH ltc AS (
    SELECT DISTINCT date_part('year', month)::int AS year, coalesce(oktmo, '00000000') AS oktmo, person_id
    FROM register.int_supplement_month
), disabled AS (  -- in the year: the OPTIMA card's priority category, or a ФРИ extract in force in it
    SELECT l.year, l.person_id FROM ltc l JOIN register.int_recipient_person rp USING (person_id)
    WHERE ';' || replace(rp.priority_category, ' ', '') || ';' LIKE '%;disabled;%'
    UNION
    SELECT l.year, l.person_id FROM ltc l
    JOIN register.person_link pl ON pl.person_id = l.person_id AND pl.entity = 'smev_disability'
    JOIN register.cur_smev_disability f ON f.stg_id = pl.stg_id
    WHERE coalesce(date_part('year', f.date_from), l.year) <= l.year
      AND coalesce(date_part('year', f.date_to), l.year) >= l.year
), persons AS (
    SELECT l.year, l.oktmo, l.person_id,
           w.older_from_age IS NOT NULL AS age_known,
           -- older than working age by the year's end (ref.working_age: the year's boundary for the sex)
           p.birth_date <= make_date(l.year - w.older_from_age, 12, 31) AS older,
           d.person_id IS NOT NULL AS disabled
    FROM ltc l
    JOIN register.person p USING (person_id)
    LEFT JOIN ref.working_age w ON w.year = l.year AND w.sex = p.sex
    LEFT JOIN disabled d ON d.year = l.year AND d.person_id = l.person_id
), counted AS (
    SELECT year, oktmo, count(*)::int AS ltc_persons,
           count(*) FILTER (WHERE disabled OR older)::int AS target_persons,
           count(*) FILTER (WHERE NOT disabled AND NOT age_known)::int AS age_unknown_persons
    FROM persons
    GROUP BY 1, 2
)
SELECT l.year, l.oktmo, coalesce(m.name, 'не указан') AS municipality, l.ltc_persons,
       l.target_persons, l.age_unknown_persons,
       b.persons AS persons_needing_social_services,
       -- (the share rounded in integers and compared by multiplication: exact on both engines)
       round(((20000 * l.target_persons::bigint + b.persons) / (2 * b.persons))::numeric / 100, 2) AS coverage_share,
       t.target_share,
       CASE WHEN b.persons IS NULL OR t.target_share IS NULL THEN NULL
            ELSE 100 * l.target_persons >= t.target_share * b.persons END AS meets_target,
       CASE WHEN b.persons IS NULL THEN 'нет базы в ref.coverage_base' ELSE 'база: ' || b.note END AS base_source
FROM counted l
LEFT JOIN ref.coverage_base b ON b.year = l.year AND b.oktmo = l.oktmo
LEFT JOIN ref.coverage_target t ON t.year = l.year
LEFT JOIN ref.municipality m ON m.oktmo = l.oktmo
