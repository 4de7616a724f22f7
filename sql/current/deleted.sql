
WHERE NOT EXISTS (  -- deleted by a deletion as late as the version, or later (a deletion wins a tie)
    SELECT 1 FROM register.cur_deletion d
    WHERE d.entity = '{entity}' AND d.record_id = r.natural_key
      AND (d.version_at > r.version_at OR (d.version_at = r.version_at AND d.batch_id >= r.batch_id)))
