SELECT r.recipient_id, l.person_id, r.oktmo, r.status, r.status_date, r.exit_reason, r.priority_category
FROM register.cur_optima_recipient r
JOIN register.person_link l ON l.entity = 'optima_recipient' AND l.stg_id = r.stg_id;
