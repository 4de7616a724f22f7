-- Grain: month × municipality (ОКТМО) × care level.
-- recipients: distinct register persons with a supplement in force in the month at that level;
-- entered: persons whose first supplement month is this month; exited: persons whose last
-- supplement month is this month and whose package has ended (end date, death) before the data end.
WITH pm AS (
    SELECT person_id, oktmo, month, max(care_level) AS care_level
    FROM register.int_supplement_month
    GROUP BY person_id, oktmo, month
), bounds AS (
    SELECT person_id, min(month) AS first_month, max(month) AS last_month
    FROM pm GROUP BY person_id
), data_end AS (
    SELECT max(month) AS month FROM pm
)
SELECT pm.month, coalesce(pm.oktmo, '00000000') AS oktmo, coalesce(m.name, 'не указан') AS municipality, pm.care_level,
       count(*)::int AS recipients,
       count(*) FILTER (WHERE pm.month = b.first_month)::int AS entered,
       count(*) FILTER (WHERE pm.month = b.last_month AND pm.month < d.month)::int AS exited
FROM pm
JOIN bounds b USING (person_id)
CROSS JOIN data_end d
LEFT JOIN ref.municipality m ON m.oktmo = pm.oktmo
GROUP BY pm.month, pm.oktmo, m.name, pm.care_level
