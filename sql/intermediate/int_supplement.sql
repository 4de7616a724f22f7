-- Supplements to the ИППСУ resolved to register persons (the latest version of each supplement id).
CREATE VIEW register.int_supplement AS
SELECT DISTINCT ON (s.supplement_id)
       s.supplement_id, rp.person_id, s.recipient_id, rp.oktmo, s.care_level, s.minutes_per_week, s.provider_id,
       s.start_date, s.end_date
FROM staging.optima_supplement s
JOIN register.int_recipient_person rp USING (recipient_id)
ORDER BY s.supplement_id, s.batch_id DESC, s.stg_id DESC;
