WITH months AS (
    SELECT DISTINCT month FROM register.int_supplement_month
), periods AS (
    SELECT 'year'::text AS period_kind, date_trunc('year', month)::date AS period_start,
           (date_trunc('year', month) + interval '1 year' - interval '1 day')::date AS period_end
    FROM months GROUP BY 2, 3
    UNION ALL
    SELECT 'month_ytd', date_trunc('year', month)::date, (month + interval '1 month' - interval '1 day')::date FROM months
), receiving_month AS (
    SELECT DISTINCT person_id, month FROM register.int_supplement_month
), receiving_count AS (
    SELECT month, count(*) AS n FROM receiving_month GROUP BY month
), events AS (  -- (the month computed first, as a date: a hash join on person and month, not a filter)
    SELECT em.month, em.event_type, count(*) AS n
    FROM (SELECT l.person_id, date_trunc('month', e.start_date)::date AS month, e.event_type
          FROM register.cur_health_medical_event e
          JOIN register.person_link l ON l.entity = 'health_medical_event' AND l.stg_id = e.stg_id
          WHERE e.event_type IN ('hospitalisation', 'ambulance', 'outpatient')) em
    JOIN receiving_month r ON r.person_id = em.person_id AND r.month = em.month
    GROUP BY 1, 2
), flow AS (
    SELECT month, 'recipient_months' AS measure, n::numeric AS value FROM receiving_count
    UNION ALL
    SELECT month, CASE event_type WHEN 'hospitalisation' THEN 'hospitalisations' WHEN 'ambulance' THEN 'ambulance_calls'
                                  ELSE 'primary_care_visits' END, sum(n)
    FROM events WHERE event_type IN ('hospitalisation', 'ambulance', 'outpatient') GROUP BY 1, 2
    UNION ALL
    SELECT date_trunc('month', hire_date)::date, 'assistants_newly_employed', count(*)
    FROM register.cur_optima_staff WHERE role = 'care_assistant' AND previously_unemployed GROUP BY 1
), staff AS (
    SELECT * FROM register.cur_optima_staff
), stock AS (
    SELECT p.period_kind, p.period_start, p.period_end, v.measure, v.value
    FROM periods p
    CROSS JOIN LATERAL (
        SELECT 'staff_active_' || s.role AS measure, count(*)::numeric AS value FROM staff s
        WHERE s.hire_date <= p.period_end AND (s.leave_date IS NULL OR s.leave_date > p.period_end) GROUP BY s.role
        UNION ALL
        SELECT 'staff_1y_' || s.role, count(*) FROM staff s
        WHERE s.hire_date <= p.period_end - 365 AND (s.leave_date IS NULL OR s.leave_date > p.period_end) GROUP BY s.role
        UNION ALL
        SELECT 'relatives_employed', count(*) FROM staff s
        WHERE s.role = 'care_assistant' AND s.is_relative AND s.hire_date <= p.period_end
          AND (s.leave_date IS NULL OR s.leave_date > p.period_end)
        UNION ALL
        SELECT 'relatives_kept_job', count(*) FROM staff s
        WHERE s.role = 'care_assistant' AND s.is_relative AND s.kept_main_job AND s.hire_date <= p.period_end
          AND (s.leave_date IS NULL OR s.leave_date > p.period_end)
        UNION ALL
        SELECT 'recipients_receiving', coalesce(sum(r.n), 0) FROM receiving_count r
        WHERE r.month = date_trunc('month', p.period_end)
    ) v
)
SELECT p.period_kind, p.period_start, p.period_end, f.measure, sum(f.value) AS value
FROM periods p
JOIN flow f ON f.month BETWEEN p.period_start AND p.period_end
GROUP BY 1, 2, 3, 4
UNION ALL
SELECT period_kind, period_start, period_end, measure, value FROM stock;
