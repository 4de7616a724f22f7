-- Per supplement and month in force: minutes assigned (minutes per week × days in force / 7)
-- and delivered (0 when no care report came: the worst under-delivery is none at all).
CREATE VIEW register.int_package_month AS
WITH delivered AS (
    SELECT supplement_id, month, sum(minutes_delivered) AS delivered_minutes
    FROM staging.optima_care_report
    GROUP BY supplement_id, month
)
SELECT sm.supplement_id, sm.person_id, sm.oktmo, sm.care_level, sm.month, sm.provider_id,
       -- round(x / 7) in integers (half away from zero, as round() does): numeric arithmetic on 12 M rows
       -- cost seconds
       CASE WHEN a.x < 0 THEN -((7 - 2 * a.x) / 14) ELSE (2 * a.x + 7) / 14 END AS assigned_minutes,
       coalesce(d.delivered_minutes, 0) AS delivered_minutes
FROM register.int_supplement_month sm
CROSS JOIN LATERAL (SELECT sm.minutes_per_week::bigint * (least(sm.last_date, (sm.month + interval '1 month' - interval '1 day')::date)
                                                        - greatest(sm.start_date, sm.month) + 1) AS x) a
LEFT JOIN delivered d ON d.supplement_id = sm.supplement_id AND d.month = sm.month;
