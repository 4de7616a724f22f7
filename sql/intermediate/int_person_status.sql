WITH v AS (
    SELECT l.person_id, r.status, r.exit_reason,
           coalesce(r.status_date, coalesce(b.source_time, b.started_at)::date) AS since, r.batch_id, r.stg_id
    FROM staging.optima_recipient r
    JOIN audit.load_batch b ON b.batch_id = r.batch_id AND b.status = 'loaded'
    JOIN register.person_link l ON l.entity = 'optima_recipient' AND l.stg_id = r.stg_id
), changed AS (
    SELECT v.*, lag(status || ':' || coalesce(exit_reason, '')) OVER (PARTITION BY person_id
                                                                     ORDER BY since, batch_id, stg_id) AS before
    FROM v
), starts AS (
    SELECT person_id, status, exit_reason, since, batch_id, stg_id FROM changed
    WHERE before IS NULL OR before <> status || ':' || coalesce(exit_reason, '')
)
SELECT person_id, status, exit_reason, since AS valid_from,
       coalesce(lead(since) OVER w, DATE '9999-12-31') AS valid_to
FROM starts
WINDOW w AS (PARTITION BY person_id ORDER BY since, batch_id, stg_id);
