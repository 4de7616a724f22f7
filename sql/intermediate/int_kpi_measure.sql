WITH months AS (
    SELECT DISTINCT month FROM register.int_supplement_month
), periods AS (
    SELECT 'year'::text AS period_kind, date_trunc('year', month)::date AS period_start,
           (date_trunc('year', month) + interval '1 year' - interval '1 day')::date AS period_end
    FROM months GROUP BY 2, 3
    UNION ALL
    -- half-years: January–June and July–December
    SELECT 'half_year', h.half_start, (h.half_start + interval '6 months' - interval '1 day')::date
    FROM (SELECT DISTINCT (date_trunc('year', month) + CASE WHEN date_part('month', month) <= 6
              THEN interval '0 months' ELSE interval '6 months' END)::date AS half_start FROM months) h
    UNION ALL
    SELECT 'month_ytd', date_trunc('year', month)::date, (month + interval '1 month' - interval '1 day')::date FROM months
), receiving_month AS (  -- where each recipient lived in the month (int_supplement_month: one place a person-month)
    SELECT person_id, month, min(coalesce(oktmo, '00000000')) AS oktmo FROM register.int_supplement_month
    GROUP BY person_id, month
), receiving_count AS (
    SELECT month, oktmo, count(*) AS n FROM receiving_month GROUP BY month, oktmo
), events AS (  -- (the month computed first, as a date: a hash join on person and month, not a filter)
    SELECT em.month, r.oktmo, em.event_type, count(*) AS n
    FROM (SELECT l.person_id, date_trunc('month', e.start_date)::date AS month, e.event_type
          FROM register.cur_health_medical_event e
          JOIN register.person_link l ON l.entity = 'health_medical_event' AND l.stg_id = e.stg_id
          WHERE e.event_type IN ('hospitalisation', 'ambulance', 'outpatient')) em
    JOIN receiving_month r ON r.person_id = em.person_id AND r.month = em.month
    GROUP BY 1, 2, 3
), staff AS (
    SELECT s.*, coalesce(s.oktmo, '00000000') AS place FROM register.cur_optima_staff s
), flow AS (
    SELECT month, oktmo, 'recipient_months' AS measure, n::numeric AS value FROM receiving_count
    UNION ALL
    SELECT month, oktmo, CASE event_type WHEN 'hospitalisation' THEN 'hospitalisations' WHEN 'ambulance' THEN 'ambulance_calls'
                                  ELSE 'primary_care_visits' END, sum(n)
    FROM events GROUP BY 1, 2, 3
    UNION ALL
    SELECT date_trunc('month', hire_date)::date, place, 'assistants_newly_employed', count(*)
    FROM staff WHERE role = 'care_assistant' AND previously_unemployed GROUP BY 1, 2
), stock AS (
    SELECT p.period_kind, p.period_start, p.period_end, v.oktmo, v.measure, v.value
    FROM periods p
    CROSS JOIN LATERAL (
        SELECT s.place AS oktmo, 'staff_active_' || s.role AS measure, count(*)::numeric AS value FROM staff s
        WHERE s.hire_date <= p.period_end AND (s.leave_date IS NULL OR s.leave_date > p.period_end) GROUP BY 1, 2
        UNION ALL
        SELECT s.place, 'staff_1y_' || s.role, count(*) FROM staff s
        WHERE s.hire_date <= p.period_end - 365 AND (s.leave_date IS NULL OR s.leave_date > p.period_end) GROUP BY 1, 2
        UNION ALL  -- KPI 10 counts assistants, organisers and experts as one staff
        SELECT s.place, 'staff_active_all', count(*) FROM staff s
        WHERE s.hire_date <= p.period_end AND (s.leave_date IS NULL OR s.leave_date > p.period_end) GROUP BY 1
        UNION ALL
        SELECT s.place, 'staff_1y_all', count(*) FROM staff s
        WHERE s.hire_date <= p.period_end - 365 AND (s.leave_date IS NULL OR s.leave_date > p.period_end) GROUP BY 1
        UNION ALL
        SELECT s.place, 'relatives_employed', count(*) FROM staff s
        WHERE s.role = 'care_assistant' AND s.is_relative AND s.hire_date <= p.period_end
          AND (s.leave_date IS NULL OR s.leave_date > p.period_end) GROUP BY 1
        UNION ALL
        SELECT s.place, 'relatives_kept_job', count(*) FROM staff s
        WHERE s.role = 'care_assistant' AND s.is_relative AND s.kept_main_job AND s.hire_date <= p.period_end
          AND (s.leave_date IS NULL OR s.leave_date > p.period_end) GROUP BY 1
        UNION ALL
        SELECT r.oktmo, 'recipients_receiving', sum(r.n) FROM receiving_count r
        WHERE r.month = date_trunc('month', p.period_end) GROUP BY 1
    ) v
), by_municipality AS (
    SELECT p.period_kind, p.period_start, p.period_end, f.oktmo, f.measure, sum(f.value) AS value
    FROM periods p
    JOIN flow f ON f.month BETWEEN p.period_start AND p.period_end
    GROUP BY 1, 2, 3, 4, 5
    UNION ALL
    SELECT period_kind, period_start, period_end, oktmo, measure, value FROM stock
)
SELECT period_kind, period_start, period_end, oktmo, measure, value FROM by_municipality
UNION ALL  -- the region: every municipality's figure, the unknown one included (oktmo NULL)
SELECT period_kind, period_start, period_end, NULL, measure, sum(value) FROM by_municipality
GROUP BY 1, 2, 3, 5;
