-- OPTIMA recipients resolved to register persons (the latest card per recipient id wins).
CREATE VIEW register.int_recipient_person AS
SELECT DISTINCT ON (r.recipient_id)
       r.recipient_id, l.person_id, r.oktmo, r.status, r.status_date, r.exit_reason, r.priority_category
FROM staging.optima_recipient r
JOIN register.person_link l ON l.entity = 'optima_recipient' AND l.stg_id = r.stg_id
ORDER BY r.recipient_id, r.batch_id DESC, r.stg_id DESC;
