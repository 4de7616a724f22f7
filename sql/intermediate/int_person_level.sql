-- A person's care level over time: each current assessment holds from its date to the next one's
-- (valid_to exclusive); care_level NULL is "not in need of care".
CREATE VIEW register.int_person_level AS
SELECT rp.person_id, a.care_level, a.assessment_date AS valid_from,
       coalesce(lead(a.assessment_date) OVER (PARTITION BY rp.person_id ORDER BY a.assessment_date, a.assessment_id),
                DATE '9999-12-31') AS valid_to
FROM register.cur_optima_assessment a
JOIN register.int_recipient_person rp USING (recipient_id);
