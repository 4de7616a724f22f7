SELECT run_id, min(validated_at) AS validated_at, checkpoint, suite, expectation, severity,
       bool_and(success) AS success, max(unexpected_count) AS unexpected_count, max(element_count) AS element_count
FROM audit.expectation_result
GROUP BY run_id, checkpoint, suite, expectation, severity
