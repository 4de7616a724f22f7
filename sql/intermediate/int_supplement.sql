-- Supplements to the ИППСУ resolved to register persons (the latest version of each supplement id).
CREATE VIEW register.int_supplement AS
SELECT supplement_id, person_id, recipient_id, oktmo, care_level, minutes_per_week, provider_id, start_date, end_date
FROM (SELECT s.supplement_id, rp.person_id, s.recipient_id, rp.oktmo, s.care_level, s.minutes_per_week, s.provider_id,
             s.start_date, s.end_date,
             row_number() OVER (PARTITION BY s.supplement_id ORDER BY s.batch_id DESC, s.stg_id DESC) AS n
      FROM staging.optima_supplement s
      JOIN register.int_recipient_person rp USING (recipient_id)) v
WHERE n = 1;
