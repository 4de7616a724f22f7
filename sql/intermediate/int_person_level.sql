SELECT rp.person_id, a.care_level, a.assessment_date AS valid_from,
       coalesce(lead(a.assessment_date) OVER (PARTITION BY rp.person_id ORDER BY a.assessment_date, a.assessment_id),
                DATE '9999-12-31') AS valid_to
FROM register.int_assessment a
JOIN register.int_recipient_person rp USING (recipient_id);
