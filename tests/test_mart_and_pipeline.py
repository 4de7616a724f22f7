import csv
import datetime as dt
import hashlib
import io
import json
import zipfile

from etl.landing import load
from etl.orchestration import pipeline
from etl import register
from tests.conftest import publish_checked, query

RECIPIENTS = """recipient_id,snils,surname,first_name,patronymic,sex,birth_date,address,oktmo,phone,priority_category,identified_channel,identified_date,status,status_date,exit_reason
R1,112-233-445 95,Иванов,Иван,Иванович,M,1940-01-01,,20701000,,,,2024-01-02,exited,2024-03-10,refusal
R2,,Петрова,Мария,Петровна,F,1938-05-05,,20701000,,,,2024-01-20,receiving,2024-02-01,
R3,,Сидорова,Анна,Ильинична,F,1945-07-07,,20605000,,,,2024-02-20,receiving,2024-03-05,
"""
SUPPLEMENTS = """supplement_id,recipient_id,assessment_id,care_level,minutes_per_week,provider_id,start_date,end_date
S1,R1,A1,2,1260,P1,2024-01-15,2024-03-10
S2,R2,A2,3,1680,P1,2024-02-01,
S3,R3,A3,1,600,P2,2024-03-05,
"""
REPORTS = """report_id,supplement_id,recipient_id,month,service_code,minutes_delivered,assistant_id
C1,S3,R3,2024-04-01,hygiene,2400,CA1
"""


def bundle(path, files):
    manifest = {"export_id": "HAND-1", "files": [
        {"name": n, "rows": len(t.strip().splitlines()) - 1, "sha256": hashlib.sha256(t.encode()).hexdigest()}
        for n, t in files.items()]}
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("manifest.json", json.dumps(manifest))
        for n, t in files.items():
            z.writestr(n, t)
    return path


def test_mart_recipients_by_level_on_hand_built_fixture(clean_db, tmp_path):
    p = bundle(tmp_path / "b.zip", {"recipients.csv": RECIPIENTS, "supplements.csv": SUPPLEMENTS,
                                    "care_reports.csv": REPORTS})
    [res] = load.ingest("optima", [p])
    assert (res.status, res.quarantined) == ("loaded", 0)
    register.build()
    publish_checked("hand")
    rows = query("SELECT month, oktmo, care_level, recipients, entered, exited FROM marts.mart_recipients_by_level "
                 "ORDER BY month, oktmo, care_level")
    d = dt.date
    # Worked out by hand: data end is April 2024 (last care report). R1 (level 2) Jan–Mar, ends in March;
    # R2 (level 3) Feb–Apr; R3 (level 1, another municipality) Mar–Apr.
    assert rows == [
        (d(2024, 1, 1), "20701000", 2, 1, 1, 0),
        (d(2024, 2, 1), "20701000", 2, 1, 0, 0),
        (d(2024, 2, 1), "20701000", 3, 1, 1, 0),
        (d(2024, 3, 1), "20605000", 1, 1, 1, 0),
        (d(2024, 3, 1), "20701000", 2, 1, 0, 1),
        (d(2024, 3, 1), "20701000", 3, 1, 0, 0),
        (d(2024, 4, 1), "20605000", 1, 1, 0, 0),
        (d(2024, 4, 1), "20701000", 3, 1, 0, 0),
    ]
    assert query("SELECT DISTINCT municipality FROM marts.mart_recipients_by_level ORDER BY 1") == [
        ("Аннинский",), ("город Воронеж",)]


def test_whole_pipeline_is_idempotent(clean_db, region):
    out, counts = region
    first = pipeline.run_all(str(out), "run1")
    snapshot = query("SELECT (SELECT count(*) FROM register.person), (SELECT count(*) FROM register.person_link),"
                     " (SELECT count(*) FROM raw.record), (SELECT array_agg(register_id ORDER BY register_id) "
                     "FROM register.person)")
    mart = query("SELECT month, oktmo, care_level, recipients FROM marts.mart_recipients_by_level ORDER BY 1, 2, 3")
    assert first["publish"]["mart_recipients_by_level"] == len(mart) > 0
    assert first["register"]["persons"] < counts["health_referral"] + counts["optima_recipients"]
    second = pipeline.run_all(str(out), "run2")
    assert all(second[s]["skipped"] == second[s]["files"] for s in ("health", "smev", "optima"))
    assert second["register"]["records"] == 0
    assert query("SELECT (SELECT count(*) FROM register.person), (SELECT count(*) FROM register.person_link),"
                 " (SELECT count(*) FROM raw.record), (SELECT array_agg(register_id ORDER BY register_id) "
                 "FROM register.person)") == snapshot
    assert query("SELECT month, oktmo, care_level, recipients FROM marts.mart_recipients_by_level "
                 "ORDER BY 1, 2, 3") == mart


def _current_care_reports(folder):
    """The care reports as ОПТИМА holds them after every export, read from the bundles here and not by the
    pipeline: later export wins per report_id, a deletion removes it (within one bundle the deletion wins)."""
    bundles = []
    for path in folder.glob("*.zip"):
        with zipfile.ZipFile(path) as z:
            manifest = json.loads(z.read("manifest.json"))
            read = {n: list(csv.DictReader(io.StringIO(z.read(n).decode("utf-8")))) for n in z.namelist()
                    if n.endswith(".csv")}
        bundles.append((manifest["exported_at"], read))
    current = {}
    for _, read in sorted(bundles, key=lambda b: b[0]):
        for r in read.get("care_reports.csv", []):
            current[r["report_id"]] = r
        for d in read.get("deletions.csv", []):
            if d["table"] == "care_reports":
                current.pop(d["record_id"], None)
    return current


def test_delivered_minutes_follow_the_corrected_export(clean_db, region):
    """The generated region has a second ОПТИМА export correcting ~2 % of care reports and deleting
    mistaken supplements with their reports: the published delivered minutes per month are those of
    the current reports (summing every staged version was the bug of issue 15)."""
    out, counts = region
    assert counts["optima_corrections"] > 0
    pipeline.run_all(str(out), "run1")
    reports = _current_care_reports(out / "optima")
    staged = query("SELECT count(*) FROM staging.optima_care_report")[0][0]
    assert staged > len(reports)  # the corrections landed as versions beside the first export
    expected = {}
    for r in reports.values():
        month = r["month"][:7]
        expected[month] = expected.get(month, 0) + int(r["minutes_delivered"])
    got = dict(query("SELECT to_char(month, 'YYYY-MM'), sum(delivered_minutes)::bigint "
                     "FROM marts.mart_package_execution_provider GROUP BY 1"))
    assert got == {m: v for m, v in expected.items() if m in got}
    assert sum(got.values()) == sum(expected.values())
