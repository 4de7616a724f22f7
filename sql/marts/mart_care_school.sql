WITH t AS (
    SELECT * FROM register.cur_optima_care_school
)
SELECT date_trunc('month', t.training_date)::date AS month, coalesce(t.oktmo, '00000000') AS oktmo,
       coalesce(m.name, 'региональная школа') AS municipality, t.trainee_kind,
       count(*)::int AS trainings, count(DISTINCT coalesce(t.recipient_id, t.training_id))::int AS people_trained,
       coalesce(sum(t.hours), 0) AS hours
FROM t
LEFT JOIN ref.municipality m ON m.oktmo = t.oktmo
GROUP BY 1, 2, 3, 4
