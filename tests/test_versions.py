"""The RKC's figures under what real sources do (issue 15): a corrected OPTIMA re-export (changed
minutes, a changed card that is a move, a cancelled supplement and its report), a resubmitted ОМС
register, a hospital stay, a closed month that must not be rewritten — every figure worked out by hand
in the comments beside it, from the files written here, and checked on both mart engines.

The region: two recipients of one provider each, Jan–Apr 2024.
- R1 Орлова (Воронеж), level 2, supplement S1 840 min/week from 1 Jan, in hospital 5–12 March.
- R2 Котов (Аннинский район until the card of 20 April puts him in Воронеж), level 1, S2 420 min/week
  from 1 Feb; an outpatient visit in February, sent by ОМС and resubmitted corrected (PR_NOV = 1).
- R3 Белова (Воронеж), identified in February: a supplement S9 (700 min/week from 1 March, PRV3) with a
  report of 100 minutes, both cancelled when she refused.
- Export E1 (5 April): cards, assessments, S1, S2, S9 and the care reports of Jan–Mar.
- Export E2 (20 April): February's report of R1 corrected 3400 → 3700, March's of R2 1800 → 1500,
  R2's card with the new municipality, R3's exit, S9 and its report deleted, and the April reports.
"""
import csv
import datetime as dt
import hashlib
import io
import json
import zipfile

import pytest

from etl.base import db
from etl.landing import load
from etl.models import periods
from etl.orchestration import pipeline
from etl.reporting import report
from etl.base.normalize import snils_checksum
from tests.conftest import publish_checked, query

D = dt.date
VRN, ANNA = "20701000", "20605000"
SNILS1, SNILS2 = "112233445" + snils_checksum("112233445"), "123456789" + snils_checksum("123456789")


def _csv(rows: list[dict]) -> bytes:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue().encode()


def bundle(path, export_id: str, exported_at: str, tables: dict[str, list[dict]]):
    files = {f"{name}.csv": _csv(rows) for name, rows in tables.items()}
    manifest = {"export_id": export_id, "format_version": "1.1", "exported_at": exported_at, "files": [
        {"name": n, "rows": len(tables[n[:-4]]), "sha256": hashlib.sha256(b).hexdigest()} for n, b in files.items()]}
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("manifest.json", json.dumps(manifest))
        for n, b in files.items():
            z.writestr(n, b)
    return path


def card(rid, surname, first, patr, sex, birth, snils, oktmo, channel, identified):
    return {"recipient_id": rid, "snils": snils, "surname": surname, "first_name": first, "patronymic": patr,
            "sex": sex, "birth_date": birth, "oktmo": oktmo, "identified_channel": channel,
            "identified_date": identified, "status": "receiving", "status_date": identified, "exit_reason": ""}


R1 = card("R1", "Орлова", "Анна", "Петровна", "F", "1940-05-06", SNILS1, VRN, "dispensary", "2024-01-10")
R2 = card("R2", "Котов", "Иван", "Ильич", "M", "1938-01-02", SNILS2, ANNA, "doctor_visit", "2024-01-12")
R3 = card("R3", "Белова", "Нина", "Олеговна", "F", "1945-07-08", "", VRN, "other", "2024-02-20")


def report_row(rid, sid, person, month, minutes):
    return {"report_id": rid, "supplement_id": sid, "recipient_id": person, "month": month,
            "service_code": "hygiene", "minutes_delivered": minutes}


def supplement(sid, person, level, minutes, provider, start):
    return {"supplement_id": sid, "recipient_id": person, "care_level": level, "minutes_per_week": minutes,
            "provider_id": provider, "start_date": start, "end_date": ""}


E1 = {
    "recipients": [R1, R2, R3],
    "assessments": [{"assessment_id": "A1", "recipient_id": "R1", "assessment_date": "2023-12-20", "care_level": 2},
                    {"assessment_id": "A2", "recipient_id": "R2", "assessment_date": "2024-01-22", "care_level": 1}],
    "supplements": [supplement("S1", "R1", 2, 840, "PRV1", "2024-01-01"),
                    supplement("S2", "R2", 1, 420, "PRV2", "2024-02-01"),
                    supplement("S9", "R3", 2, 700, "PRV3", "2024-03-01")],
    "contracts": [{"contract_id": "K1", "recipient_id": "R1", "supplement_id": "S1", "provider_id": "PRV1",
                   "contract_date": "2023-12-28", "start_date": "2024-01-01"}],
    "care_reports": [report_row("C1", "S1", "R1", "2024-01-01", 3600), report_row("C2", "S1", "R1", "2024-02-01", 3400),
                     report_row("C3", "S1", "R1", "2024-03-01", 3500), report_row("C4", "S2", "R2", "2024-02-01", 1700),
                     report_row("C5", "S2", "R2", "2024-03-01", 1800), report_row("C9", "S9", "R3", "2024-03-01", 100)],
}
E2 = {
    "recipients": [{**R2, "oktmo": VRN},
                   {**R3, "status": "exited", "status_date": "2024-04-18", "exit_reason": "refusal"}],
    "care_reports": [report_row("C2", "S1", "R1", "2024-02-01", 3700), report_row("C5", "S2", "R2", "2024-03-01", 1500),
                     report_row("C6", "S1", "R1", "2024-04-01", 3600), report_row("C7", "S2", "R2", "2024-04-01", 1800)],
    "deletions": [{"table": "supplements", "record_id": "S9", "deleted_on": "2024-04-18", "reason": "ошибочный ввод"},
                  {"table": "care_reports", "record_id": "C9", "deleted_on": "2024-04-18", "reason": "ошибочный ввод"}],
}

EVENTS = ("КодМО;НомерСлучая;ВидСобытия;ДатаНачала;ДатаОкончания;Фамилия;Имя;Отчество;Пол;ДатаРождения;СНИЛС\r\n"
          f"MO1;H1;госпитализация;05.03.2024;12.03.2024;Орлова;Анна;Петровна;Ж;06.05.1940;{SNILS1}\r\n")


def oms_register(folder, name: str, made: str, pr_nov: int, visit: str):
    """An ОМС case file (federal format 3.2) and its L-file: R2's outpatient visit, case 750096 / 5001."""
    h = f"""<?xml version="1.0" encoding="windows-1251"?>
<ZL_LIST><ZGLV><VERSION>3.2</VERSION><DATA>{made}</DATA><FILENAME>HM{name}</FILENAME><SD_Z>1</SD_Z></ZGLV>
<SCHET><CODE>1</CODE><CODE_MO>750096</CODE_MO><YEAR>2024</YEAR><MONTH>2</MONTH><NSCHET>1</NSCHET>
<DSCHET>{made}</DSCHET></SCHET>
<ZAP><N_ZAP>1</N_ZAP><PR_NOV>{pr_nov}</PR_NOV><PACIENT><ID_PAC>77</ID_PAC><VPOLIS>3</VPOLIS></PACIENT>
<Z_SL><IDCASE>5001</IDCASE><USL_OK>3</USL_OK><LPU>750096</LPU><DATE_Z_1>{visit}</DATE_Z_1><DATE_Z_2>{visit}</DATE_Z_2>
<SL><DS1>I10</DS1></SL></Z_SL></ZAP></ZL_LIST>
"""
    persons = f"""<?xml version="1.0" encoding="windows-1251"?>
<PERS_LIST><ZGLV><VERSION>3.2</VERSION><DATA>{made}</DATA><FILENAME>LM{name}</FILENAME><FILENAME1>HM{name}</FILENAME1>
</ZGLV><PERS><ID_PAC>77</ID_PAC><FAM>Котов</FAM><IM>Иван</IM><OT>Ильич</OT><W>1</W><DR>1938-01-02</DR>
<SNILS>{SNILS2[:3]}-{SNILS2[3:6]}-{SNILS2[6:9]} {SNILS2[9:]}</SNILS></PERS></PERS_LIST>
"""
    (folder / f"HM{name}.XML").write_bytes(h.encode("cp1251"))
    (folder / f"LM{name}.XML").write_bytes(persons.encode("cp1251"))
    return folder / f"HM{name}.XML"


def land(source, *paths):
    results = load.ingest(source, list(paths))
    assert all(r.status in ("loaded", "skipped") for r in results), [(r.path, r.reason, r.detail) for r in results]
    return results


def run_and_publish():
    pipeline.build_register("t")
    publish_checked("t")


def execution():
    """(month, provider) → (oktmo, assigned, delivered, hospital days, hospital minutes, under-delivered)."""
    return {(r[0], r[1]): tuple(r[2:]) for r in query(
        "SELECT month, provider_id, oktmo, assigned_minutes, delivered_minutes, hospital_days, hospital_minutes, "
        "under_delivered FROM marts.mart_package_execution_recipient")}


def by_level():
    return {(r[0], r[1], r[2]): r[3:] for r in query(
        "SELECT month, oktmo, care_level, recipients, entered FROM marts.mart_recipients_by_level")}


def all_marts():
    out = {}
    for name, (_, grain) in periods.PERIOD_MARTS.items():
        rows = query(f"SELECT * FROM marts.{name}")
        cols = [c for (c,) in query("SELECT column_name FROM information_schema.columns WHERE table_schema = 'marts'"
                                    " AND table_name = %s ORDER BY ordinal_position", (name,))]
        keep = [i for i, c in enumerate(cols) if c != "published_at"]
        out[name] = sorted((tuple(r[i] for i in keep) for r in rows), key=repr)
    return out


@pytest.mark.parametrize("engine", ["duckdb", "postgres"])
def test_figures_stay_right_under_corrections_resubmissions_moves_and_closed_months(clean_db, tmp_path, monkeypatch,
                                                                                     engine):
    monkeypatch.setenv("LTC_MARTS_ENGINE", engine)
    (tmp_path / "oms1").mkdir()
    (tmp_path / "oms2").mkdir()
    (tmp_path / "events.csv").write_bytes(EVENTS.encode("cp1251"))
    land("optima", bundle(tmp_path / "e1.zip", "E1", "2024-04-05T10:00:00+03:00", E1))
    land("health", tmp_path / "events.csv", oms_register(tmp_path / "oms1", "750096T75_24041", "2024-04-10", 0,
                                                          "2024-02-14"))
    run_and_publish()
    first = execution()
    # February, R1: 840 × 29 / 7 = 3480 assigned, 3400 delivered (E1)
    assert first[(D(2024, 2, 1), "PRV1")] == (VRN, 3480, 3400, 0, 0, False)
    # March, S9 still there: 700 × 31 / 7 = 3100 assigned, 100 delivered
    assert first[(D(2024, 3, 1), "PRV3")] == (VRN, 3100, 100, 0, 0, True)

    assert periods.close(D(2024, 2, 1), "тест")["action"] == "closed"

    # the corrections: E2, and the ОМС register resubmitted a fortnight later with the visit's date corrected
    land("optima", bundle(tmp_path / "e2.zip", "E2", "2024-04-20T10:00:00+03:00", E2))
    land("health", oms_register(tmp_path / "oms2", "750096T75_24042", "2024-04-25", 1, "2024-02-15"))
    run_and_publish()
    got = execution()
    # January, R1: 840 × 31 / 7 = 3720, 3600 delivered
    assert got[(D(2024, 1, 1), "PRV1")] == (VRN, 3720, 3600, 0, 0, False)
    # February is closed: the published figures stay those of revision 1 (3400), not 3400 + 3700
    assert got[(D(2024, 2, 1), "PRV1")] == (VRN, 3480, 3400, 0, 0, False)
    # February, R2: 420 × 29 / 7 = 1740 assigned, 1700 delivered, in Аннинский (the move came in April)
    assert got[(D(2024, 2, 1), "PRV2")] == (ANNA, 1740, 1700, 0, 0, False)
    # March, R1: 31 days in force, 7 in hospital (5–11 March; the 12th, the discharge day, at home):
    # 840 × 24 / 7 = 2880 assigned, 840 × 7 / 7 = 840 not, 3500 delivered: not under-delivered
    assert got[(D(2024, 3, 1), "PRV1")] == (VRN, 2880, 3500, 7, 840, False)
    # S9 and its report were deleted: no PRV3 at all
    assert not any(p == "PRV3" for _, p in got)
    # March, R2: 420 × 31 / 7 = 1860 assigned, 1500 delivered (corrected, not 1800 + 1500): 1500 < 0.9 × 1860
    assert got[(D(2024, 3, 1), "PRV2")] == (ANNA, 1860, 1500, 0, 0, True)
    # April, after the move: R2 in Воронеж, 420 × 30 / 7 = 1800; R1 840 × 30 / 7 = 3600
    assert got[(D(2024, 4, 1), "PRV2")] == (VRN, 1800, 1800, 0, 0, False)
    assert got[(D(2024, 4, 1), "PRV1")] == (VRN, 3600, 3600, 0, 0, False)

    # recipients by month, municipality and level: R2 counted in Аннинский until April
    assert by_level() == {(D(2024, 1, 1), VRN, 2): (1, 1), (D(2024, 2, 1), VRN, 2): (1, 0),
                          (D(2024, 2, 1), ANNA, 1): (1, 1), (D(2024, 3, 1), VRN, 2): (1, 0),
                          (D(2024, 3, 1), ANNA, 1): (1, 0), (D(2024, 4, 1), VRN, 2): (1, 0),
                          (D(2024, 4, 1), VRN, 1): (1, 0)}
    # the funnel: one card each, whatever its versions (R2's and R3's came twice); R2 identified in Аннинский;
    # February is closed: R3 still "receiving" there (S9 was in force when it closed)
    assert query("SELECT month, oktmo, channel, received, identified, receiving FROM marts.mart_identification_funnel "
                 "ORDER BY month, oktmo") == [(D(2024, 1, 1), ANNA, "doctor_visit", 1, 1, 1),
                                             (D(2024, 1, 1), VRN, "dispensary", 1, 1, 1),
                                             (D(2024, 2, 1), VRN, "other", 1, 1, 1)]
    # KPIs to the end of March: one outpatient visit (the resubmitted case replaces the first), one
    # hospitalisation, recipient-months 1 (Jan) + 2 (Feb) + 2 (Mar) = 5; February is closed but its figures agree
    kpi = {r[0]: r[1:] for r in query("SELECT code, numerator, denominator FROM marts.mart_kpi WHERE oktmo IS NULL AND "
                                      "period_kind = 'month_ytd' AND period_end = '2024-03-31'")}
    assert kpi["primary_care_rate"] == (1, 5) and kpi["hospitalisation_rate"] == (1, 5)

    # February's pending revision says what changed and which batches brought it
    [status] = periods.status(D(2024, 2, 1))
    assert (status["revision"], status["pending_revision"]) == (1, 2)
    changes = status["pending_changes"]
    assert set(changes) == {"mart_package_execution_recipient", "mart_package_execution_provider",
                            "mart_identification_funnel", "mart_plan_fact"}
    # the budget's fact of February: 300 minutes more × 350 ₽ an hour (the packaged tariff) = 1 750 ₽, in
    # the municipality's row and in the region's
    assert changes["mart_plan_fact"]["rows_changed"] == 2
    assert changes["mart_plan_fact"]["measures"]["fact"] == 3500
    # R3, identified on 20 February, no longer receives anything (her supplement from 1 March was cancelled):
    # one receiving fewer, and no longer 10 days from identification to service
    assert changes["mart_identification_funnel"] == {
        "rows_added": 0, "rows_removed": 0, "rows_changed": 1,
        "measures": {"receiving": -1, "median_days_to_service": -10, "p90_days_to_service": -10}}
    assert changes["mart_package_execution_recipient"]["rows_changed"] == 1
    assert changes["mart_package_execution_recipient"]["measures"]["delivered_minutes"] == 300
    assert changes["mart_package_execution_provider"]["measures"]["delivered_minutes"] == 300
    later = [b for (b,) in query("SELECT batch_id FROM audit.load_batch WHERE file_name IN ('e2.zip', "
                                 "'HM750096T75_24042.XML') ORDER BY 1")]
    assert status["pending_batches"] == later
    edition = report.edition(D(2024, 2, 1))
    assert edition[0].startswith("Редакция 1") and "редакция 2 не принята" in edition[1]
    assert any("Оказано, мин +300" in line for line in edition)

    # a second landing of the same correction, and a re-run: nothing changes
    before = all_marts()
    (tmp_path / "again").mkdir()
    land("optima", bundle(tmp_path / "again" / "e2.zip", "E2-again", "2024-04-21T10:00:00+03:00", E2))
    run_and_publish()
    assert all_marts() == before
    assert periods.status(D(2024, 2, 1))[0]["pending_revision"] == 2

    # closing February again accepts revision 2: now it says 3700
    assert periods.close(D(2024, 2, 1), "тест")["action"] == "revision accepted"
    run_and_publish()
    assert execution()[(D(2024, 2, 1), "PRV1")] == (VRN, 3480, 3700, 0, 0, False)
    assert query("SELECT receiving FROM marts.mart_identification_funnel WHERE month = '2024-02-01'") == [(0,)]
    [status] = periods.status(D(2024, 2, 1))
    assert (status["revision"], status["pending_revision"]) == (2, None)
    assert report.edition(D(2024, 2, 1)) == [f"Редакция 2: месяц закрыт {dt.date.today():%d.%m.%Y} (тест)."]
    # the register: each recipient one person, however many versions of the card; the second versions of
    # R2's and R3's cards and of the ОМС case joined their first by the natural key
    assert query("SELECT count(DISTINCT person_id) FROM register.person_link WHERE entity = 'optima_recipient'") == [(3,)]
    assert query("SELECT entity, count(*) FROM register.person_link WHERE rule = 'natural_key' GROUP BY 1 "
                 "ORDER BY 1") == [("health_medical_event", 1), ("optima_recipient", 2)]


def test_a_deleted_key_comes_back_with_a_later_export_and_an_older_export_does_not_win(clean_db, tmp_path):
    land("optima", bundle(tmp_path / "a.zip", "A", "2024-04-05T10:00:00+03:00", E1))
    land("optima", bundle(tmp_path / "b.zip", "B", "2024-04-20T10:00:00+03:00", {
        "deletions": [{"table": "care_reports", "record_id": "C2", "deleted_on": "", "reason": ""}]}))
    # an export made before the deletion, landed after it: its C2 (3450) is not the newer
    land("optima", bundle(tmp_path / "c.zip", "C", "2024-04-10T10:00:00+03:00", {
        "care_reports": [report_row("C2", "S1", "R1", "2024-02-01", 3450)]}))
    with db.transaction() as conn, conn.cursor() as cur:
        from etl.models import sqlmodels
        sqlmodels.apply_views(cur)
    assert query("SELECT count(*) FROM register.cur_optima_care_report WHERE report_id = 'C2'") == [(0,)]
    land("optima", bundle(tmp_path / "d.zip", "D", "2024-04-25T10:00:00+03:00", {
        "care_reports": [report_row("C2", "S1", "R1", "2024-02-01", 3700)]}))
    assert query("SELECT minutes_delivered FROM register.cur_optima_care_report WHERE report_id = 'C2'") == [(3700,)]
    # every version stays in staging with its lineage
    assert query("SELECT count(*) FROM staging.optima_care_report WHERE report_id = 'C2'") == [(3,)]
    assert query("SELECT count(*) FROM staging.optima_deletion") == [(1,)]
