-- Person records of loaded batches only (a batch being landed, or left by a landing that died, is unseen)
SELECT 'optima_recipient'::text AS entity, stg_id, batch_id, recipient_id AS natural_id, 1 AS source_rank,
       snils, surname, first_name, patronymic, sex, birth_date, address, oktmo,
       coalesce(status_date, identified_date) AS record_date
FROM staging.optima_recipient
WHERE batch_id IN (SELECT batch_id FROM audit.load_batch WHERE status = 'loaded')
UNION ALL
SELECT 'smev_application', stg_id, batch_id, coalesce(order_uuid, message_id), 2,
       snils, surname, first_name, patronymic, sex, birth_date, address, oktmo, order_date
FROM staging.smev_application
WHERE batch_id IN (SELECT batch_id FROM audit.load_batch WHERE status = 'loaded')
UNION ALL
SELECT 'health_referral', stg_id, batch_id, mo_code || '/' || referral_id, 3,
       snils, surname, first_name, patronymic, sex, birth_date, address, oktmo, referral_date
FROM staging.health_referral
WHERE batch_id IN (SELECT batch_id FROM audit.load_batch WHERE status = 'loaded')
UNION ALL
SELECT 'health_medical_event', stg_id, batch_id, mo_code || '/' || event_id, 4,
       snils, surname, first_name, patronymic, sex, birth_date, NULL, oktmo, start_date
FROM staging.health_medical_event
WHERE batch_id IN (SELECT batch_id FROM audit.load_batch WHERE status = 'loaded')
UNION ALL
SELECT 'smev_death', stg_id, batch_id, record_number, 5,
       snils, surname, first_name, patronymic, sex, birth_date, address, NULL, death_date
FROM staging.smev_death
WHERE batch_id IN (SELECT batch_id FROM audit.load_batch WHERE status = 'loaded')
UNION ALL
SELECT 'smev_disability', stg_id, batch_id, extract_id, 6,
       snils, surname, first_name, patronymic, sex, birth_date, NULL, NULL, coalesce(extract_time::date, date_from)
FROM staging.smev_disability
WHERE batch_id IN (SELECT batch_id FROM audit.load_batch WHERE status = 'loaded');
