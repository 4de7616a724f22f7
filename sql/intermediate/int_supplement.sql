SELECT s.supplement_id, rp.person_id, s.recipient_id, s.care_level, s.minutes_per_week, s.provider_id, s.start_date,
       s.end_date
FROM register.cur_optima_supplement s
JOIN register.int_recipient_person rp USING (recipient_id);
