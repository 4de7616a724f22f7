-- The current version of each record of staging.{entity}, by its natural key ({natural_key}):
-- the version its source made last (the batch's source_time — an export's own date — else when the
-- batch was landed; then batch and row order), gone when a later deletion of the key came.
-- Staging keeps every version with its lineage. Generated for each row of sql/current/natural_keys.csv.
-- (A version is current when no later one exists — an anti-join, not row_number() = 1: PostgreSQL
-- estimates that filter at a row or two and plans nested loops over the whole register on it.)
CREATE VIEW register.cur_{entity} AS
WITH v AS (
    SELECT s.stg_id, s.batch_id, coalesce({natural_key}, '#' || s.stg_id) AS natural_key,
           coalesce(b.source_time, b.started_at) AS version_at
    FROM staging.{entity} s JOIN audit.load_batch b ON b.batch_id = s.batch_id AND b.status = 'loaded'
), r AS (
    SELECT v.* FROM v
    WHERE NOT EXISTS (
        SELECT 1 FROM v w
        WHERE w.natural_key = v.natural_key
          AND (w.version_at > v.version_at OR (w.version_at = v.version_at
               AND (w.batch_id > v.batch_id OR (w.batch_id = v.batch_id AND w.stg_id > v.stg_id)))))
)
SELECT s.*, r.natural_key, r.version_at
FROM staging.{entity} s
JOIN r ON r.stg_id = s.stg_id{deleted}
