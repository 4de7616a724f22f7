SELECT a.assessment_id, a.recipient_id, a.assessment_date,
       coalesce(a.care_level, g.care_level) AS care_level, a.typing_group, a.points,
       a.care_level IS NULL AND g.care_level IS NOT NULL AS level_from_typing_group
FROM register.cur_optima_assessment a
LEFT JOIN ref.typing_group_level g ON g.typing_group = a.typing_group
