"""Benchmark: refreshing every mart (build, not the checkpoint) on a large register.

    python bench/marts.py --persons 1000000 --months 12 [--corrected 0.1]

A throwaway database (DATABASE_URL's server or the embedded one) is filled in SQL: per person an
OPTIMA card, an assessment, a contract, a supplement in force for `months` months, one care report
a month, a referral, about three medical events (the hospitalisation with its discharge); care
assistants, rental and care-school rows; then, as a second export, 10 % of the cards (moved), the
supplements and the care reports again, corrected (`--corrected`).
Filling (and a VACUUM, as autovacuum leaves the tables) is not timed; then `pipeline.build_marts`
(views + configuration + every mart) is, twice, with the phases of the DuckDB build logged.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from etl.base import db  # noqa: E402

FILL = """
INSERT INTO audit.load_batch (batch_id, source, file_name, file_sha256, status, source_time) VALUES
    (1, 'optima', 'bench-optima.zip', 'b1', 'loaded', '2026-01-05'), (2, 'health', 'bench-health.csv', 'b2', 'loaded', NULL);
SELECT setval(pg_get_serial_sequence('audit.load_batch', 'batch_id'), 10);
CREATE TEMP TABLE p AS
SELECT g AS n, 'R' || g AS rid, date '1930-01-01' + (g %% 15000) AS birth,
       (ARRAY['20701000','20710000','20605000','20609000','20619000','20621000'])[1 + g %% 6] AS oktmo,
       date '2025-01-01' + (g %% 20) AS start_day
FROM generate_series(1, %(n)s) g;
INSERT INTO staging.optima_recipient (batch_id, locator, export_id, recipient_id, surname, first_name, patronymic,
    sex, birth_date, oktmo, identified_channel, identified_date, status, status_date)
SELECT 1, 'r' || n, 'B', rid, 'Ф' || n, 'Имя', 'Отчество', 'F', birth, oktmo, 'dispensary', start_day - 30,
       'receiving', start_day FROM p;
INSERT INTO staging.optima_assessment (batch_id, locator, export_id, assessment_id, recipient_id, assessment_date,
    care_level)
SELECT 1, 'a' || n, 'B', 'A' || n, rid, start_day - 10, 1 + n %% 3 FROM p;
INSERT INTO staging.optima_contract (batch_id, locator, export_id, contract_id, recipient_id, supplement_id,
    provider_id, contract_date, start_date)
SELECT 1, 'k' || n, 'B', 'K' || n, rid, 'S' || n, 'PRV' || (n %% 40), start_day - 2, start_day FROM p;
INSERT INTO staging.optima_supplement (batch_id, locator, export_id, supplement_id, recipient_id, care_level,
    minutes_per_week, provider_id, start_date)
SELECT 1, 's' || n, 'B', 'S' || n, rid, 1 + n %% 3, 420 + 210 * (n %% 3), 'PRV' || (n %% 40), start_day FROM p;
INSERT INTO staging.optima_care_report (batch_id, locator, export_id, report_id, supplement_id, recipient_id, month,
    service_code, minutes_delivered, assistant_id)
SELECT 1, 'c' || n || '-' || m, 'B', 'C' || n || '-' || m, 'S' || n, rid, make_date(2025, m, 1), 'hygiene',
       1500 + (n %% 700), 'CA' || (n %% 20000)
FROM p CROSS JOIN generate_series(1, %(months)s) m;
INSERT INTO staging.health_referral (batch_id, locator, mo_code, referral_id, referral_date, channel, surname,
    first_name, patronymic, sex, birth_date, consent, oktmo)
SELECT 2, 'h' || n, 'MO', 'H' || n, start_day - 30, 'dispensary', 'Ф' || n, 'Имя', 'Отчество', 'F', birth, true, oktmo
FROM p;
INSERT INTO staging.health_medical_event (batch_id, locator, event_id, mo_code, event_type, start_date, end_date,
    surname, first_name, patronymic, sex, birth_date, oktmo)
SELECT 2, 'e' || n || '-' || k, 'E' || n || '-' || k, 'MO',
       (ARRAY['hospitalisation','ambulance','outpatient'])[k], start_day + 20 * k + (n %% 90),
       CASE WHEN k = 1 THEN start_day + 20 * k + (n %% 90) + 3 + n %% 12 END, 'Ф' || n, 'Имя',
       'Отчество', 'F', birth, oktmo
FROM p CROSS JOIN generate_series(1, 3) k;
INSERT INTO staging.optima_staff (batch_id, locator, export_id, staff_id, role, hire_date, is_relative,
    previously_unemployed, kept_main_job)
SELECT 1, 'st' || g, 'B', 'CA' || g, 'care_assistant', date '2023-01-01' + (g %% 900), g %% 5 = 0, g %% 3 = 0,
       CASE WHEN g %% 5 = 0 THEN g %% 2 = 0 END
FROM generate_series(0, 19999) g;
INSERT INTO staging.optima_rental (batch_id, locator, export_id, rental_id, point_id, oktmo, recipient_id, item_code,
    requested_date, issued_date)
SELECT 1, 'rn' || n, 'B', 'RN' || n, 'RP' || (n %% 60), oktmo, rid, 'walker', start_day + 5,
       CASE WHEN n %% 10 > 0 THEN start_day + 5 + n %% 20 END
FROM p WHERE n %% 5 = 0;
INSERT INTO staging.optima_care_school (batch_id, locator, export_id, training_id, school_id, oktmo, trainee_kind,
    recipient_id, training_date, hours)
SELECT 1, 'tr' || n, 'B', 'TR' || n, 'SCH' || (n %% 30), oktmo, 'relative', rid, start_day + 15, 8 FROM p WHERE n %% 3 = 0;
INSERT INTO register.person (person_id, register_id, surname, first_name, patronymic, sex, birth_date, oktmo)
SELECT n, 'RG' || lpad(n::text, 9, '0'), 'Ф' || n, 'Имя', 'Отчество', 'F', birth, oktmo FROM p;
SELECT setval(pg_get_serial_sequence('register.person', 'person_id'), %(n)s);
INSERT INTO register.person_link (entity, stg_id, person_id, rule)
SELECT 'optima_recipient', stg_id, substr(recipient_id, 2)::bigint, 'bench' FROM staging.optima_recipient;
INSERT INTO register.person_link (entity, stg_id, person_id, rule)
SELECT 'health_referral', stg_id, substr(referral_id, 2)::bigint, 'bench' FROM staging.health_referral;
INSERT INTO register.person_link (entity, stg_id, person_id, rule)
SELECT 'health_medical_event', stg_id, split_part(substr(event_id, 2), '-', 1)::bigint, 'bench'
FROM staging.health_medical_event;
ANALYZE;
"""
# A second export correcting a share of every OPTIMA table (issue 15): minutes changed, cards moved to
# another municipality, supplements re-issued; every correction a new version of its key.
CORRECT = """
INSERT INTO audit.load_batch (batch_id, source, file_name, file_sha256, status, source_time) VALUES
    (3, 'optima', 'bench-optima-corrected.zip', 'b3', 'loaded', '2026-02-05');
INSERT INTO staging.optima_recipient (batch_id, locator, export_id, recipient_id, surname, first_name, patronymic,
    sex, birth_date, oktmo, identified_channel, identified_date, status, status_date)
SELECT 3, 'r' || n, 'C', rid, 'Ф' || n, 'Имя', 'Отчество', 'F', birth,
       (ARRAY['20701000','20710000','20605000','20609000','20619000','20621000'])[1 + (n + 1) %% 6], 'dispensary',
       start_day - 30, 'receiving', start_day FROM p WHERE n %% %(every)s = 0;
INSERT INTO staging.optima_supplement (batch_id, locator, export_id, supplement_id, recipient_id, care_level,
    minutes_per_week, provider_id, start_date)
SELECT 3, 's' || n, 'C', 'S' || n, rid, 1 + n %% 3, 400 + 210 * (n %% 3), 'PRV' || (n %% 40), start_day
FROM p WHERE n %% %(every)s = 1;
INSERT INTO staging.optima_care_report (batch_id, locator, export_id, report_id, supplement_id, recipient_id, month,
    service_code, minutes_delivered, assistant_id)
SELECT 3, 'c' || n || '-' || m, 'C', 'C' || n || '-' || m, 'S' || n, rid, make_date(2025, m, 1), 'hygiene',
       1530 + (n %% 700), 'CA' || (n %% 20000)
FROM p CROSS JOIN generate_series(1, %(months)s) m WHERE (n + m) %% %(every)s = 2;
INSERT INTO register.person_link (entity, stg_id, person_id, rule)
SELECT 'optima_recipient', stg_id, substr(recipient_id, 2)::bigint, 'bench' FROM staging.optima_recipient
WHERE batch_id = 3;
ANALYZE;
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--persons", type=int, default=1_000_000)
    ap.add_argument("--months", type=int, default=12)
    ap.add_argument("--corrected", type=float, default=0.1,
                    help="share of every OPTIMA table exported again, corrected (0 = none)")
    a = ap.parse_args()
    # BENCH_DEBUG=1: each model's and mart's time in DuckDB
    logging.basicConfig(level=logging.DEBUG if os.environ.get("BENCH_DEBUG") else logging.INFO,
                        format="%(asctime)s %(name)s %(message)s")
    with db.scratch_database("ltc_bench_marts"):
        db.upgrade()
        from etl.orchestration import pipeline

        t = time.perf_counter()
        with db.transaction() as c, c.cursor() as cur:
            cur.execute(FILL, {"n": a.persons, "months": a.months})
            if a.corrected:
                cur.execute(CORRECT, {"months": a.months, "every": max(2, round(1 / a.corrected))})
            cur.execute("SELECT (SELECT count(*) FROM staging.optima_care_report), "
                        "(SELECT count(*) FROM staging.health_medical_event)")
            reports, events = cur.fetchone()
        print(f"filled {a.persons} persons, {reports} care reports, {events} medical events "
              f"in {time.perf_counter() - t:.0f} s", flush=True)
        # as autovacuum and the earlier steps of a run (checks, register) leave the tables before a refresh:
        # vacuumed, their rows' visibility hints set (otherwise the first build pays for setting them)
        conn = db.connect()
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("VACUUM (ANALYZE)")
        conn.close()
        for attempt in (1, 2):
            t = time.perf_counter()
            counts = pipeline.build_marts(f"bench-{attempt}")
            print(f"build_marts #{attempt}: {time.perf_counter() - t:.1f} s  {counts}", flush=True)


if __name__ == "__main__":
    main()
