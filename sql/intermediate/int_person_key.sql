SELECT p.person_id, left(md5(s.value || ':' || p.person_id::text), 16) AS person_key
FROM register.person p
CROSS JOIN (SELECT value FROM ref.setting WHERE key = 'pseudonym_salt') s;
