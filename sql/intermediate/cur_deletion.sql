SELECT entity, record_id, batch_id, version_at, deleted_on, reason
FROM (SELECT d.entity, d.record_id, d.batch_id, coalesce(b.source_time, b.started_at) AS version_at, d.deleted_on,
             d.reason,
             row_number() OVER (PARTITION BY d.entity, d.record_id
                                ORDER BY coalesce(b.source_time, b.started_at) DESC, d.batch_id DESC, d.stg_id DESC) AS n
      FROM staging.optima_deletion d
      JOIN audit.load_batch b ON b.batch_id = d.batch_id AND b.status = 'loaded') x
WHERE n < 2;
