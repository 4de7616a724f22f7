SELECT l.person_id, 'health_referral'::text AS source, r.channel, r.referral_date AS received_date, r.oktmo
FROM register.cur_health_referral r
JOIN register.person_link l ON l.entity = 'health_referral' AND l.stg_id = r.stg_id
UNION ALL
SELECT l.person_id, 'smev_application', 'epgu', a.order_date, a.oktmo
FROM register.cur_smev_application a
JOIN register.person_link l ON l.entity = 'smev_application' AND l.stg_id = a.stg_id
WHERE a.order_date IS NOT NULL
UNION ALL
SELECT rp.person_id, 'optima_recipient', coalesce(r.identified_channel, 'other'), r.identified_date,
       coalesce(pl.oktmo, r.oktmo)
FROM register.cur_optima_recipient r
JOIN register.int_recipient_person rp USING (recipient_id)
LEFT JOIN register.int_person_place pl
       ON pl.person_id = rp.person_id AND r.identified_date >= pl.valid_from AND r.identified_date < pl.valid_to
WHERE r.identified_date IS NOT NULL;
