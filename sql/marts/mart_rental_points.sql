WITH r AS (
    SELECT * FROM register.cur_optima_rental
), span AS (  -- to the data's end: the last month of any rental event or care report
    SELECT date_trunc('month', min(requested_date)) AS first_month,
           greatest(date_trunc('month', max(coalesce(returned_date, issued_date, requested_date))),
                    (SELECT max(month) FROM register.cur_optima_care_report)) AS last_month
    FROM r
), months AS (
    SELECT g.m::date AS month
    FROM span CROSS JOIN LATERAL generate_series(span.first_month, span.last_month, interval '1 month') AS g(m)
)
SELECT mo.month, coalesce(r.oktmo, '00000000') AS oktmo, coalesce(m.name, 'не указан') AS municipality, r.point_id,
       count(*) FILTER (WHERE date_trunc('month', r.requested_date) = mo.month)::int AS requested,
       count(*) FILTER (WHERE date_trunc('month', r.issued_date) = mo.month)::int AS issued,
       count(*) FILTER (WHERE date_trunc('month', r.returned_date) = mo.month)::int AS returned,
       count(*) FILTER (WHERE r.requested_date <= (mo.month + interval '1 month' - interval '1 day')
                          AND (r.issued_date IS NULL OR r.issued_date > (mo.month + interval '1 month' - interval '1 day')))::int
           AS waiting_at_month_end,
       count(*) FILTER (WHERE r.issued_date <= (mo.month + interval '1 month' - interval '1 day')
                          AND (r.returned_date IS NULL OR r.returned_date > (mo.month + interval '1 month' - interval '1 day')))::int
           AS in_use_at_month_end,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY r.issued_date - r.requested_date)
           FILTER (WHERE date_trunc('month', r.issued_date) = mo.month) AS median_wait_days
FROM months mo
JOIN r ON r.requested_date <= (mo.month + interval '1 month' - interval '1 day')
      AND (r.returned_date IS NULL OR r.returned_date >= mo.month)
LEFT JOIN ref.municipality m ON m.oktmo = r.oktmo
GROUP BY mo.month, r.oktmo, m.name, r.point_id
