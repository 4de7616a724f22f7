WITH s AS (
    SELECT l.person_id, e.start_date AS admitted,
           greatest(coalesce(e.end_date, e.start_date + coalesce(o.value::int, 1)), e.start_date + 1) AS left_on
    FROM register.cur_health_medical_event e
    JOIN register.person_link l ON l.entity = 'health_medical_event' AND l.stg_id = e.stg_id
    LEFT JOIN ref.care_rule o  -- in force on the admission day (ref.care_rule); none: one day
        ON o.rule = 'open_hospital_stay_days' AND e.start_date >= o.valid_from
       AND (o.valid_to IS NULL OR e.start_date <= o.valid_to)
    WHERE e.event_type = 'hospitalisation'
), ordered AS (  -- a stay starting after every earlier one has ended begins a new merged stay
    SELECT person_id, admitted, left_on,
           max(left_on) OVER (PARTITION BY person_id ORDER BY admitted, left_on
                              ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS earlier_left
    FROM s
), islands AS (
    SELECT person_id, admitted, left_on,
           sum(CASE WHEN earlier_left IS NULL OR admitted > earlier_left THEN 1 ELSE 0 END)
               OVER (PARTITION BY person_id ORDER BY admitted, left_on ROWS UNBOUNDED PRECEDING) AS island
    FROM ordered
)
SELECT person_id, min(admitted) AS admitted, max(left_on) AS left_on
FROM islands
GROUP BY person_id, island;
