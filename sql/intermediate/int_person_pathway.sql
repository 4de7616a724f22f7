WITH first_id AS (  -- (row_number: see int_recipient_person)
    SELECT person_id, identified_date, channel, oktmo
    FROM (SELECT person_id, received_date AS identified_date, channel, oktmo,
                 row_number() OVER (PARTITION BY person_id ORDER BY received_date, source, channel, oktmo) AS n
          FROM register.int_identification) i
    WHERE n = 1
), assessed AS (
    SELECT rp.person_id, min(a.assessment_date) AS first_assessment,
           min(a.assessment_date) FILTER (WHERE a.care_level IS NOT NULL) AS first_recognition,
           (array_agg(a.care_level ORDER BY a.assessment_date) FILTER (WHERE a.care_level IS NOT NULL))[1]
               AS first_level
    FROM register.int_assessment a
    JOIN register.int_recipient_person rp USING (recipient_id)
    GROUP BY rp.person_id
), contracted AS (
    SELECT rp.person_id, min(c.contract_date) AS first_contract
    FROM register.cur_optima_contract c
    JOIN register.int_recipient_person rp USING (recipient_id)
    GROUP BY rp.person_id
), package AS (
    SELECT person_id, min(start_date) AS first_package_day FROM register.int_supplement GROUP BY person_id
), served AS (
    SELECT rp.person_id, min(c.month) AS first_service_month
    FROM register.cur_optima_care_report c
    JOIN register.int_recipient_person rp USING (recipient_id)
    WHERE c.minutes_delivered > 0
    GROUP BY rp.person_id
)
SELECT f.person_id, f.identified_date, f.channel, coalesce(f.oktmo, p.oktmo) AS oktmo,
       a.first_assessment, a.first_recognition, a.first_level, c.first_contract, pk.first_package_day,
       s.first_service_month
FROM first_id f
JOIN register.person p USING (person_id)
LEFT JOIN assessed a USING (person_id)
LEFT JOIN contracted c USING (person_id)
LEFT JOIN package pk USING (person_id)
LEFT JOIN served s USING (person_id);
