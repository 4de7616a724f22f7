WITH delivered AS (
    SELECT supplement_id, month, sum(minutes_delivered) AS delivered_minutes
    FROM register.cur_optima_care_report
    GROUP BY supplement_id, month
), span AS (  -- the days the supplement was in force in the month: [first_day, end_day)
    SELECT sm.*, greatest(sm.start_date, sm.month) AS first_day,
           least(sm.last_date, (sm.month + interval '1 month' - interval '1 day')::date) + 1 AS end_day
    FROM register.int_supplement_month sm
), hospital AS (
    SELECT sp.supplement_id, sp.month,
           sum(least(h.left_on, sp.end_day) - greatest(h.admitted, sp.first_day)) AS days
    FROM span sp
    JOIN register.int_hospital_stay h
      ON h.person_id = sp.person_id AND h.admitted < sp.end_day AND h.left_on > sp.first_day
    GROUP BY sp.supplement_id, sp.month
)
SELECT sp.supplement_id, sp.person_id, sp.oktmo, sp.care_level, sp.month, sp.provider_id,
       -- round(x / 7) in integers (half away from zero, as round() does): numeric arithmetic on 12 M rows
       -- cost seconds
       CASE WHEN a.x < 0 THEN -((7 - 2 * a.x) / 14) ELSE (2 * a.x + 7) / 14 END AS assigned_minutes,
       coalesce(h.days, 0)::int AS hospital_days,
       (2 * a.y + 7) / 14 AS hospital_minutes,
       coalesce(d.delivered_minutes, 0) AS delivered_minutes
FROM span sp
LEFT JOIN hospital h ON h.supplement_id = sp.supplement_id AND h.month = sp.month
CROSS JOIN LATERAL (SELECT sp.minutes_per_week::bigint * (sp.end_day - sp.first_day - coalesce(h.days, 0)) AS x,
                           sp.minutes_per_week::bigint * coalesce(h.days, 0) AS y) a
LEFT JOIN delivered d ON d.supplement_id = sp.supplement_id AND d.month = sp.month;
