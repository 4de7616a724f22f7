WITH months AS (
    SELECT DISTINCT month FROM register.int_supplement_month
), tariff AS (  -- the hour's tariff in force in each month (ref.care_rule care_hour_tariff_rub)
    SELECT m.month, max(r.value) AS rub FROM months m
    JOIN ref.care_rule r ON r.rule = 'care_hour_tariff_rub' AND m.month >= r.valid_from
     AND (r.valid_to IS NULL OR m.month <= r.valid_to)
    GROUP BY m.month
), plan AS (  -- each plan row holds for every month from month_from to month_to
    SELECT m.month, p.oktmo, p.indicator, sum(p.planned) AS planned
    FROM ref.plan p JOIN months m ON m.month >= p.month_from AND (p.month_to IS NULL OR m.month <= p.month_to)
    GROUP BY 1, 2, 3
), fact AS (
    SELECT month, oktmo, 'recipients_level_' || care_level AS indicator, sum(recipients)::numeric AS fact
    FROM build.mart_recipients_by_level WHERE care_level IS NOT NULL GROUP BY 1, 2, 3
    UNION ALL  -- staff working on the month's last day, where their card places them
    SELECT m.month, coalesce(s.oktmo, '00000000'), 'staff_' || s.role, count(*)
    FROM months m JOIN register.cur_optima_staff s
      ON s.hire_date <= (m.month + interval '1 month' - interval '1 day')::date
     AND (s.leave_date IS NULL OR s.leave_date > (m.month + interval '1 month' - interval '1 day')::date)
    GROUP BY 1, 2, 3
    UNION ALL
    SELECT month, oktmo, 'trainings_' || trainee_kind, sum(trainings) FROM build.mart_care_school GROUP BY 1, 2, 3
    UNION ALL  -- an estimate: hours delivered × the hour's tariff in force in the month
    SELECT e.month, e.oktmo, 'budget_rub', round(sum(e.delivered_minutes) * max(t.rub) / 60, 2)
    FROM build.mart_package_execution_provider e LEFT JOIN tariff t USING (month)
    GROUP BY e.month, e.oktmo
), matched AS (
    SELECT coalesce(p.month, f.month) AS month, coalesce(p.oktmo, f.oktmo) AS oktmo,
           coalesce(p.indicator, f.indicator) AS indicator, p.planned,
           -- an indicator with no fact in a month had none (0); the budget of a month without a tariff is
           -- unknown (NULL), not 0
           CASE WHEN f.indicator IS NOT NULL THEN f.fact
                WHEN p.indicator = 'budget_rub' AND t.rub IS NULL THEN NULL ELSE 0 END AS fact
    FROM plan p FULL JOIN fact f ON f.month = p.month AND f.oktmo = p.oktmo AND f.indicator = p.indicator
    LEFT JOIN tariff t ON t.month = coalesce(p.month, f.month)
), with_region AS (
    SELECT month, oktmo, indicator, planned, fact FROM matched
    UNION ALL  -- the region: every municipality's plan and fact
    SELECT month, NULL, indicator, sum(planned), sum(fact) FROM matched GROUP BY month, indicator
)
SELECT w.month, w.oktmo,
       CASE WHEN w.oktmo IS NULL THEN 'регион' ELSE coalesce(m.name, 'не указан') END AS municipality,
       w.indicator, i.name_ru, i.unit, w.planned, w.fact, w.fact - w.planned AS variance,
       CASE WHEN w.planned > 0 THEN round((w.fact - w.planned) * 100 / w.planned, 1) END AS variance_pct
FROM with_region w
LEFT JOIN ref.plan_indicator i ON i.code = w.indicator
LEFT JOIN ref.municipality m ON m.oktmo = w.oktmo
WHERE w.month IN (SELECT month FROM months)
