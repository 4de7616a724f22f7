SELECT m.supplement_id, m.person_id, pl.oktmo, coalesce(lv.care_level, m.care_level) AS care_level,
       m.care_level AS supplement_care_level, m.minutes_per_week, m.provider_id, m.start_date, m.last_date, m.month
FROM register.int_supplement_grid m
LEFT JOIN register.int_person_place pl
       ON pl.person_id = m.person_id AND m.last_day >= pl.valid_from AND m.last_day < pl.valid_to
LEFT JOIN register.int_person_level lv
       ON lv.person_id = m.person_id AND m.last_day >= lv.valid_from AND m.last_day < lv.valid_to;
