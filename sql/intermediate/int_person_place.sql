WITH v AS (
    SELECT l.person_id, r.oktmo, coalesce(b.source_time, b.started_at)::date AS since, r.batch_id, r.stg_id
    FROM staging.optima_recipient r
    JOIN audit.load_batch b ON b.batch_id = r.batch_id AND b.status = 'loaded'
    JOIN register.person_link l ON l.entity = 'optima_recipient' AND l.stg_id = r.stg_id
    WHERE r.oktmo IS NOT NULL
), changed AS (
    SELECT person_id, oktmo, since, batch_id, stg_id,
           lag(oktmo) OVER (PARTITION BY person_id ORDER BY since, batch_id, stg_id) AS before
    FROM v
), starts AS (
    SELECT person_id, oktmo, since, batch_id, stg_id FROM changed WHERE before IS NULL OR before <> oktmo
)
SELECT person_id, oktmo,
       CASE WHEN row_number() OVER w = 1 THEN DATE '0001-01-01' ELSE since END AS valid_from,
       coalesce(lead(since) OVER w, DATE '9999-12-31') AS valid_to
FROM starts
WINDOW w AS (PARTITION BY person_id ORDER BY since, batch_id, stg_id);
