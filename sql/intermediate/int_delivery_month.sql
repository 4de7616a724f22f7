-- Per supplement and month: minutes assigned (minutes per week × days in force that month / 7)
-- against minutes delivered by the care assistants' monthly reports.
CREATE VIEW register.int_delivery_month AS
WITH delivered AS (
    SELECT supplement_id, month, sum(minutes_delivered) AS delivered_minutes
    FROM staging.optima_care_report
    GROUP BY supplement_id, month
)
SELECT d.supplement_id, d.month, s.person_id, s.provider_id, s.care_level, s.minutes_per_week,
       round(s.minutes_per_week *
             ((least(coalesce(s.end_date, 'infinity'::date), (d.month + interval '1 month' - interval '1 day')::date)
               - greatest(s.start_date, d.month) + 1)::numeric / 7)) AS assigned_minutes,
       d.delivered_minutes
FROM delivered d
JOIN register.int_supplement s USING (supplement_id);
