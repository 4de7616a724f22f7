-- OPTIMA's deletions (deletions.csv): the latest of each entity and key, with its version (as in
-- sql/current/current.sql) so that a later export of the key brings it back.
CREATE VIEW register.cur_deletion AS
WITH v AS (
    SELECT d.stg_id, d.entity, d.record_id, d.batch_id, coalesce(b.source_time, b.started_at) AS version_at,
           d.deleted_on, d.reason
    FROM staging.optima_deletion d
    JOIN audit.load_batch b ON b.batch_id = d.batch_id AND b.status = 'loaded'
)
SELECT entity, record_id, batch_id, version_at, deleted_on, reason FROM v
WHERE NOT EXISTS (
    SELECT 1 FROM v w
    WHERE w.entity = v.entity AND w.record_id = v.record_id
      AND (w.version_at > v.version_at OR (w.version_at = v.version_at
           AND (w.batch_id > v.batch_id OR (w.batch_id = v.batch_id AND w.stg_id > v.stg_id)))));
