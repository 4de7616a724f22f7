-- OPTIMA recipients resolved to register persons (the latest card per recipient id wins).
-- (The latest by row_number, not DISTINCT ON, here and in the other models: DuckDB, which builds the
-- marts, sorts for DISTINCT ON several times slower.)
CREATE VIEW register.int_recipient_person AS
SELECT recipient_id, person_id, oktmo, status, status_date, exit_reason, priority_category
FROM (SELECT r.recipient_id, l.person_id, r.oktmo, r.status, r.status_date, r.exit_reason, r.priority_category,
             row_number() OVER (PARTITION BY r.recipient_id ORDER BY r.batch_id DESC, r.stg_id DESC) AS n
      FROM staging.optima_recipient r
      JOIN register.person_link l ON l.entity = 'optima_recipient' AND l.stg_id = r.stg_id) c
WHERE n = 1;
