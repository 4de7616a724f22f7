-- The pseudonymous key the marts carry instead of any identifier: md5 of a secret salt of this
-- database and the person id (stable, not reversible without the salt).
CREATE VIEW register.int_person_key AS
SELECT p.person_id, left(md5(s.value || ':' || p.person_id::text), 16) AS person_key
FROM register.person p
CROSS JOIN (SELECT value FROM ref.setting WHERE key = 'pseudonym_salt') s;
