-- The current version of each record of staging.{entity}, by its natural key ({natural_key}):
-- the version its source made last (the batch's source_time — an export's own date — else when the
-- batch was landed; then batch and row order), gone when a later deletion of the key came.
-- Staging keeps every version with its lineage. Generated for each row of sql/current/natural_keys.csv.
-- ("n < 2", not "n = 1": PostgreSQL estimates an equality on a computed column at 0.5 % of the rows,
-- where nearly every row is the only version of its key, and planned nested loops over the register on
-- it; an inequality it estimates at a third. DuckDB reads both alike, within its memory: a self
-- anti-join of 13 M care reports did not fit in 2 GB.)
WITH v AS (
    SELECT s.stg_id, s.batch_id, coalesce({natural_key}, '#' || s.stg_id) AS natural_key,
           coalesce(b.source_time, b.started_at) AS version_at
    FROM staging.{entity} s JOIN audit.load_batch b ON b.batch_id = s.batch_id AND b.status = 'loaded'
), r AS (
    SELECT stg_id, batch_id, natural_key, version_at,
           row_number() OVER (PARTITION BY natural_key ORDER BY version_at DESC, batch_id DESC, stg_id DESC) AS n
    FROM v
)
SELECT s.*, r.natural_key, r.version_at
FROM staging.{entity} s
JOIN r ON r.stg_id = s.stg_id AND r.n < 2{deleted}
