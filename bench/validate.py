"""Benchmark: the staging and register checkpoints on about 1M staged rows.

    python bench/validate.py --persons 200000

Builds a throwaway database (DATABASE_URL's server or the embedded one) filled in SQL: per person
one OPTIMA recipient, one assessment, one supplement, care reports for 2 months and two referrals —
about 5 staged rows per person plus the register (persons, keys, links). Then times the GX
checkpoints `staging` and `register` (Data Docs building included), and prints the figures.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from etl.base import db  # noqa: E402

FILL = """
INSERT INTO audit.load_batch (batch_id, source, file_name, file_sha256, status, n_read, n_staged, n_quarantined)
VALUES (1, 'optima', 'bench.zip', 'bench', 'loaded', 0, 0, 0), (2, 'health', 'bench.csv', 'bench2', 'loaded', 0, 0, 0);
CREATE TEMP TABLE p AS
SELECT g AS n, lpad(g::text, 9, '0') AS body, 'RB' || g AS rid, date '1930-01-01' + (g %% 15000) AS birth
FROM generate_series(1, %(n)s) g;
-- valid SNILS control numbers, computed in SQL
CREATE TEMP TABLE ps AS
SELECT p.*, body || lpad((CASE WHEN t < 100 THEN t WHEN t IN (100, 101) THEN 0 ELSE (t %% 101) %% 100 END)::text, 2, '0') AS snils
FROM p CROSS JOIN LATERAL (SELECT sum(substr(body, i, 1)::int * (10 - i)) AS t FROM generate_series(1, 9) i) x;
INSERT INTO staging.optima_recipient (batch_id, locator, export_id, recipient_id, snils, surname, first_name,
    patronymic, sex, birth_date, oktmo, status, status_date)
SELECT 1, 'r' || n, 'B', rid, CASE WHEN body > '001001998' THEN snils END, 'Фамилия' || n, 'Имя', 'Отчество', 'F', birth,
       '20701000', 'receiving', date '2025-01-10' FROM ps;
INSERT INTO staging.optima_assessment (batch_id, locator, export_id, assessment_id, recipient_id, assessment_date, care_level)
SELECT 1, 'a' || n, 'B', 'A' || n, rid, date '2025-01-05', 1 + n %% 3 FROM ps;
INSERT INTO staging.optima_supplement (batch_id, locator, export_id, supplement_id, recipient_id, care_level,
    minutes_per_week, start_date)
SELECT 1, 's' || n, 'B', 'S' || n, rid, 1 + n %% 3, 420, date '2025-01-10' FROM ps;
INSERT INTO staging.optima_care_report (batch_id, locator, export_id, report_id, supplement_id, recipient_id, month,
    service_code, minutes_delivered)
SELECT 1, 'c' || n || m, 'B', 'C' || n || '-' || m, 'S' || n, rid, make_date(2025, m, 1), 'hygiene', 2000
FROM ps CROSS JOIN generate_series(2, 3) m;
INSERT INTO staging.health_referral (batch_id, locator, mo_code, referral_id, referral_date, channel, snils,
    surname, first_name, patronymic, sex, birth_date, consent)
SELECT 2, 'h' || n || k, '360001', 'H' || n || '-' || k, date '2024-12-01', 'dispensary',
       CASE WHEN body > '001001998' THEN snils END, 'Фамилия' || n, 'Имя', 'Отчество', 'F', birth, true
FROM ps CROSS JOIN generate_series(1, 2) k;
INSERT INTO register.person (person_id, register_id, snils, surname, first_name, patronymic, sex, birth_date, oktmo)
SELECT n, 'RG' || lpad(n::text, 9, '0'), CASE WHEN body > '001001998' THEN snils END, 'Фамилия' || n, 'Имя',
       'Отчество', 'F', birth, '20701000' FROM ps;
INSERT INTO register.person_link (entity, stg_id, person_id, rule)
SELECT 'optima_recipient', stg_id, substr(recipient_id, 3)::bigint, 'bench' FROM staging.optima_recipient;
INSERT INTO register.person_link (entity, stg_id, person_id, rule)
SELECT 'health_referral', stg_id, split_part(substr(referral_id, 2), '-', 1)::bigint, 'bench' FROM staging.health_referral;
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--persons", type=int, default=200_000)
    a = ap.parse_args()
    with db.scratch_database("ltc_bench"):
        db.upgrade()
        from etl import quality
        from etl.quality import gx
        from etl.models import sqlmodels

        t = time.perf_counter()
        with db.transaction() as c, c.cursor() as cur:
            cur.execute(FILL, {"n": a.persons})
            cur.execute("UPDATE audit.load_batch b SET n_read = x.n, n_staged = x.n FROM (SELECT batch_id, count(*) n "
                        "FROM (SELECT batch_id FROM staging.optima_recipient UNION ALL SELECT batch_id FROM "
                        "staging.optima_assessment UNION ALL SELECT batch_id FROM staging.optima_supplement UNION ALL "
                        "SELECT batch_id FROM staging.optima_care_report UNION ALL SELECT batch_id FROM "
                        "staging.health_referral) s GROUP BY batch_id) x WHERE x.batch_id = b.batch_id")
            cur.execute("INSERT INTO raw.record (batch_id, locator, source, entity, file_name, content_hash, payload) "
                        "SELECT batch_id, locator, 'optima', 'x', 'f', md5(locator), '' FROM staging.optima_recipient "
                        "UNION ALL SELECT batch_id, locator, 'optima', 'x', 'f', md5(locator), '' FROM staging.optima_assessment "
                        "UNION ALL SELECT batch_id, locator, 'optima', 'x', 'f', md5(locator), '' FROM staging.optima_supplement "
                        "UNION ALL SELECT batch_id, locator, 'optima', 'x', 'f', md5(locator), '' FROM staging.optima_care_report "
                        "UNION ALL SELECT batch_id, locator, 'health', 'x', 'f', md5(locator), '' FROM staging.health_referral")
            sqlmodels.apply_views(cur)
            cur.execute("SELECT (SELECT count(*) FROM raw.record), (SELECT count(*) FROM register.person)")
            staged, persons = cur.fetchone()
        for table in ("raw.record", "staging.optima_care_report", "staging.health_referral", "register.person_link"):
            with db.transaction() as c, c.cursor() as cur:
                cur.execute(f"ANALYZE {table}")
        print(f"filled {staged:,} staged rows, {persons:,} persons in {time.perf_counter() - t:.1f} s")
        gx._context()  # loading the GX project is a fixed cost, timed apart
        total = 0.0
        for cp in ("staging", "register"):
            t = time.perf_counter()
            outcomes = quality.run_checkpoint(cp, "bench")
            elapsed = time.perf_counter() - t
            total += elapsed
            failed = [o.line() for o in outcomes if not o.success]
            print(f"checkpoint {cp}: {len(outcomes)} expectations in {elapsed:.1f} s; not passed: {failed or 'none'}")
        print(f"staging + register validation: {total:.1f} s on {staged:,} staged rows")


if __name__ == "__main__":
    main()
