"""The monitoring marts on a small hand-built region. Every expected figure is worked out by hand in
the comments next to it, from the fixture rows, not by the code under test."""
import datetime as dt
import re
import uuid

import psycopg2
import pytest

from etl.models import access, sqlmodels
from etl.base import db
from etl.orchestration import pipeline
from etl import register
from tests.conftest import insert_staging as insert
from tests.conftest import png_colours, query, truncate_all

D = dt.date
VRN, ANNA = "20701000", "20605000"
PEOPLE = {  # key: (snils, surname, first name, patronymic, sex, birth date)
    "P1": ("11223344595", "Орлова", "Анна", "Петровна", "F", D(1940, 5, 6)),
    "P2": (None, "Котов", "Иван", "Ильич", "M", D(1938, 1, 2)),
    "P3": (None, "Белова", "Нина", "Олеговна", "F", D(1945, 7, 8)),
    "P4": (None, "Гусев", "Павел", "Юрьевич", "M", D(1935, 3, 4)),
}


def person(key):
    snils, surname, first, patr, sex, birth = PEOPLE[key]
    return dict(snils=snils, surname=surname, first_name=first, patronymic=patr, sex=sex, birth_date=birth)


@pytest.fixture(scope="module")
def region(pg_url, tmp_path_factory):
    """Built once for the module: the tests only read it."""
    tmp_path = tmp_path_factory.mktemp("config")
    truncate_all(pg_url)
    # configuration: the shipped formulas and parameters, a coverage base of our own
    for name in ("kpi_definition", "kpi_parameter", "coverage_target"):
        (tmp_path / f"{name}.csv").write_bytes((sqlmodels.SQL_DIR / "seeds" / f"{name}.csv").read_bytes())
    (tmp_path / "coverage_base.csv").write_text(
        "year,oktmo,persons,note\n2024,20701000,40,test base\n", encoding="utf-8")
    # the roadmap's plan for Voronezh (an indicator the file names but plan_indicator.csv does not know: a typo)
    (tmp_path / "plan.csv").write_text(
        "indicator,oktmo,month_from,month_to,planned,basis\n"
        "recipients_level_2,20701000,2024-02-01,2024-03-01,2,test\n"
        "recipients_level_3,20701000,2024-02-01,,1,test\n"
        "trainings_relative,20701000,2024-02-01,2024-02-01,2,test\n"
        "budget_rub,20701000,2024-02-01,2024-02-01,20000,test\n"
        "recipients_levle_3,20605000,2024-02-01,2024-02-01,1,typo\n", encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LTC_CONFIG_DIR", str(tmp_path))
        yield _build_region(pg_url)


def _build_region(pg_url):
    # P1: referred at a dispensary check, assessed (level 2), contract, package Feb–Mar 2024
    insert("health_referral", mo_code="MO1", referral_id="N1", referral_date=D(2024, 1, 10), channel="dispensary",
           consent=True, oktmo=VRN, **person("P1"))
    insert("optima_recipient", export_id="E", recipient_id="R1", oktmo=VRN, identified_channel="dispensary",
           identified_date=D(2024, 1, 10), status="receiving", **person("P1"))
    insert("optima_assessment", export_id="E", assessment_id="A1", recipient_id="R1", assessment_date=D(2024, 1, 20),
           care_level=2)
    insert("optima_contract", export_id="E", contract_id="C1", recipient_id="R1", supplement_id="S1",
           provider_id="PRV1", contract_date=D(2024, 1, 25), start_date=D(2024, 2, 1))
    insert("optima_supplement", export_id="E", supplement_id="S1", recipient_id="R1", care_level=2,
           minutes_per_week=420, provider_id="PRV1", start_date=D(2024, 2, 1), end_date=D(2024, 3, 31))
    insert("optima_care_report", export_id="E", report_id="CR1", supplement_id="S1", recipient_id="R1",
           month=D(2024, 2, 1), service_code="hygiene", minutes_delivered=1800)
    insert("optima_care_report", export_id="E", report_id="CR2", supplement_id="S1", recipient_id="R1",
           month=D(2024, 3, 1), service_code="hygiene", minutes_delivered=1000)
    insert("health_medical_event", event_id="H1", mo_code="MO1", event_type="hospitalisation",
           start_date=D(2024, 3, 5), end_date=D(2024, 3, 12), oktmo=VRN, **person("P1"))
    insert("optima_rental", export_id="E", rental_id="RN1", point_id="RP1", oktmo=VRN, recipient_id="R1",
           item_code="functional_bed", requested_date=D(2024, 2, 3), issued_date=D(2024, 2, 10))
    insert("optima_care_school", export_id="E", training_id="T1", school_id="SCH1", oktmo=VRN,
           trainee_kind="relative", recipient_id="R1", training_date=D(2024, 2, 15), hours=8)
    # P2: applied through ЕПГУ in Anna, assessed as not needing care
    insert("smev_application", message_id="M1", order_uuid="O1", order_date=D(2024, 2, 5), oktmo=ANNA,
           **person("P2"))
    insert("optima_recipient", export_id="E", recipient_id="R2", oktmo=ANNA, identified_channel="epgu",
           identified_date=D(2024, 2, 5), status="not_needing", **person("P2"))
    insert("optima_assessment", export_id="E", assessment_id="A2", recipient_id="R2", assessment_date=D(2024, 2, 15),
           care_level=None)
    # P3: referred at hospital discharge, nothing else yet
    insert("health_referral", mo_code="MO1", referral_id="N3", referral_date=D(2024, 1, 15),
           channel="hospital_discharge", consent=True, oktmo=VRN, **person("P3"))
    # P4: level 3 from 1 Feb, died on 20 Feb (ЗАГС)
    insert("optima_recipient", export_id="E", recipient_id="R4", oktmo=VRN, identified_channel="doctor_visit",
           identified_date=D(2024, 1, 3), status="exited", exit_reason="death", **person("P4"))
    insert("optima_assessment", export_id="E", assessment_id="A4", recipient_id="R4", assessment_date=D(2024, 1, 13),
           care_level=3)
    insert("optima_supplement", export_id="E", supplement_id="S4", recipient_id="R4", care_level=3,
           minutes_per_week=600, provider_id="PRV2", start_date=D(2024, 2, 1))
    insert("optima_care_report", export_id="E", report_id="CR4", supplement_id="S4", recipient_id="R4",
           month=D(2024, 2, 1), service_code="hygiene", minutes_delivered=1700)
    insert("smev_death", message_id="Z1", record_number="Z1", death_date=D(2024, 2, 20), **person("P4"))
    # staff: a relative hired in 2023 who kept her job; a newcomer who had no job
    insert("optima_staff", export_id="E", staff_id="CA1", role="care_assistant", hire_date=D(2023, 1, 1),
           is_relative=True, relative_recipient_id="R1", previously_unemployed=False, kept_main_job=True)
    insert("optima_staff", export_id="E", staff_id="CA2", role="care_assistant", hire_date=D(2024, 2, 10),
           is_relative=False, previously_unemployed=True)
    register.build()
    pipeline.build_marts("test")
    with db.transaction() as conn, conn.cursor() as cur:
        for name in sqlmodels.MARTS:
            sqlmodels.publish_mart(cur, name, "build")
    return pg_url


def rows(sql):
    """Query rows with numerics as floats (the marts round with numeric)."""
    import decimal
    return [tuple(float(v) if isinstance(v, decimal.Decimal) else v for v in r) for r in query(sql)]


def test_identification_funnel(region):
    got = {(r[0], r[1], r[2]): r[3:] for r in rows(
        "SELECT month, oktmo, channel, received, identified, assessed, recognised_level_2, recognised_level_3, "
        "not_needing, contracted, receiving, median_days_to_assessment, median_days_to_service "
        "FROM marts.mart_identification_funnel")}
    # P1: referral + OPTIMA card on 10 Jan; assessed 20 Jan (10 days), package from 1 Feb (22 days)
    assert got[(D(2024, 1, 1), VRN, "dispensary")] == (2, 1, 1, 1, 0, 0, 1, 1, 10, 22)
    # P3: one referral, nothing after
    assert got[(D(2024, 1, 1), VRN, "hospital_discharge")] == (1, 1, 0, 0, 0, 0, 0, 0, None, None)
    # P2: application + card on 5 Feb, assessed 15 Feb as not needing
    assert got[(D(2024, 2, 1), ANNA, "epgu")] == (2, 1, 1, 0, 0, 1, 0, 0, 10, None)
    # P4: card on 3 Jan (doctor visit), level 3 on 13 Jan, package from 1 Feb (29 days), no contract row
    assert got[(D(2024, 1, 1), VRN, "doctor_visit")] == (1, 1, 1, 0, 1, 0, 0, 1, 10, 29)
    assert len(got) == 4


def test_recipients_by_level_with_exits(region):
    got = {(r[0], r[1], r[2]): r[3:] for r in rows(
        "SELECT month, oktmo, care_level, recipients, entered, exited, exited_death, exited_refusal "
        "FROM marts.mart_recipients_by_level")}
    assert got == {
        (D(2024, 2, 1), VRN, 2): (1, 1, 0, 0, 0),   # P1 enters in February
        (D(2024, 3, 1), VRN, 2): (1, 0, 0, 0, 0),   # March is the data end: not an exit
        (D(2024, 2, 1), VRN, 3): (1, 1, 1, 1, 0),   # P4 enters and dies in February
    }


def test_package_execution(region):
    got = {(r[0], r[1]): r[2:] for r in rows(
        "SELECT month, provider_id, assigned_minutes, delivered_minutes, delivery_ratio, under_delivered, "
        "hospital_days, hospital_minutes FROM marts.mart_package_execution_recipient")}
    # P1: 420 min/week × 29 days / 7 = 1740 in February; in March in hospital 5–12 March: 7 bed-days (the
    # discharge day is at home), so 420 × (31 − 7) / 7 = 1440 assigned, 420 × 7 / 7 = 420 not assigned;
    # 1000 / 1440 = 0.694, under 0.9
    assert got[(D(2024, 2, 1), "PRV1")] == (1740, 1800, pytest.approx(1.034, abs=1e-3), False, 0, 0)
    assert got[(D(2024, 3, 1), "PRV1")] == (1440, 1000, pytest.approx(0.694, abs=1e-3), True, 7, 420)
    # P4: 600 min/week × 20 days (to death) / 7 = 1714.3 → 1714
    assert got[(D(2024, 2, 1), "PRV2")] == (1714, 1700, pytest.approx(0.992, abs=1e-3), False, 0, 0)
    prov = rows("SELECT month, provider_id, recipients, under_delivered_recipients FROM "
                "marts.mart_package_execution_provider ORDER BY 1, 2")
    assert prov == [(D(2024, 2, 1), "PRV1", 1, 0), (D(2024, 2, 1), "PRV2", 1, 0), (D(2024, 3, 1), "PRV1", 1, 1)]
    [w] = rows("SELECT surname, month, assigned_minutes, delivered_minutes FROM worklist.worklist_under_delivery")
    assert w == ("Орлова", D(2024, 3, 1), 1440, 1000)


def test_reassessment_worklist(region):
    # as of 31 Mar only P1 receives; assessed 20 Jan (< 11 months) but hospitalised 5 Mar after it
    assert rows("SELECT surname, last_assessment_date, last_hospitalisation_date, reason "
                "FROM worklist.worklist_reassessment_due") == [
        ("Орлова", D(2024, 1, 20), D(2024, 3, 5), "госпитализация после оценки")]


def test_coverage_and_kpis(region):
    # 2024 in Voronezh: P1 and P4 received the package; base 40 → 5.00 %, target 14.4 not met
    # both are older than working age in 2024 (women from 58: P1 born 1940; men from 63: P4 born 1935)
    assert rows("SELECT year, oktmo, ltc_persons, target_persons, age_unknown_persons, coverage_share, target_share,"
                " meets_target FROM marts.mart_coverage ORDER BY 2") == [
        (2024, VRN, 2, 2, 0, pytest.approx(5.0), pytest.approx(14.4), False)]
    kpi = {(r[0], r[1], r[2]): r[3:] for r in rows(
        "SELECT period_kind, period_end, code, numerator, denominator, value FROM marts.mart_kpi WHERE oktmo IS NULL")}
    year = D(2024, 12, 31)
    # recipient-months: February P1 + P4, March P1 = 3; one hospitalisation in March → 12 000 × 1 / 3
    assert kpi[("year", year, "hospitalisation_rate")] == (1, 3, pytest.approx(4000))
    assert kpi[("month_ytd", D(2024, 2, 29), "hospitalisation_rate")] == (0, 2, 0)
    assert kpi[("year", year, "assistants_newly_employed")][2] == 1          # CA2
    assert kpi[("year", year, "additional_tax_revenue")][2] == pytest.approx(154800)  # 1 × parameter 2024
    assert kpi[("year", year, "relatives_kept_job_share")] == (1, 1, 100)    # CA1
    # at 31 Dec 2024: CA1 has a year of service, CA2 (hired 10 Feb 2024) not yet → 50 %
    assert kpi[("year", year, "staff_experience_care_assistant")] == (1, 2, 50)
    # KPI 10 over assistants, organisers and experts together: only the two assistants work here → 1 / 2
    assert kpi[("year", year, "staff_experience")] == (1, 2, 50)
    assert kpi[("month_ytd", D(2024, 2, 29), "assistants_newly_employed")][2] == 1
    # the half-year January–June 2024 holds the three recipient-months and the March stay
    assert kpi[("half_year", D(2024, 6, 30), "hospitalisation_rate")] == (1, 3, pytest.approx(4000))
    # per municipality: every recipient-month and the stay are Voronezh's; nobody received care in Anna;
    # the staff rows name no municipality ('00000000', «не указан»)
    local = {(r[0], r[1], r[2], r[3]): r[4:] for r in rows(
        "SELECT period_kind, period_end, oktmo, code, municipality, numerator, denominator, value FROM marts.mart_kpi "
        "WHERE oktmo IS NOT NULL")}
    assert local[("year", year, VRN, "hospitalisation_rate")] == ("город Воронеж", 1, 3, pytest.approx(4000))
    assert local[("year", year, "00000000", "assistants_newly_employed")] == ("не указан", 1, None, 1)
    assert not any(k[2] == ANNA for k in local)
    assert local[("year", year, VRN, "staff_experience")][1:] == (0, None, None)  # no staff of Voronezh


def test_plans_against_facts(region):
    got = {(r[0], r[1], r[2]): r[3:] for r in rows(
        "SELECT month, oktmo, indicator, planned, fact, variance, variance_pct FROM marts.mart_plan_fact")}
    feb, mar = D(2024, 2, 1), D(2024, 3, 1)
    # February in Voronezh: P1 at level 2 (plan 2: −1, −50 %), P4 at level 3 (plan 1: on plan)
    assert got[(feb, VRN, "recipients_level_2")] == (2, 1, -1, pytest.approx(-50.0))
    assert got[(feb, VRN, "recipients_level_3")] == (1, 1, 0, 0)
    # March: P1 alone; P4 died in February, the level-3 plan (open-ended) stays
    assert got[(mar, VRN, "recipients_level_2")] == (2, 1, -1, pytest.approx(-50.0))
    assert got[(mar, VRN, "recipients_level_3")] == (1, 0, -1, pytest.approx(-100.0))
    # one relative trained in February against two planned
    assert got[(feb, VRN, "trainings_relative")] == (2, 1, -1, pytest.approx(-50.0))
    # the budget: 1 800 + 1 700 minutes delivered in February = 58⅓ hours × 350 ₽ (the packaged tariff)
    # = 20 416.67 ₽ against 20 000: +416.67, +2.1 %
    assert got[(feb, VRN, "budget_rub")] == (20000, pytest.approx(20416.67), pytest.approx(416.67),
                                              pytest.approx(2.1))
    # no plan for staff: the fact stands alone (CA1 and CA2 at the end of February, where no municipality
    # is named); the region sums its municipalities
    assert got[(feb, "00000000", "staff_care_assistant")] == (None, 2, None, None)
    assert got[(feb, None, "recipients_level_2")] == (2, 1, -1, pytest.approx(-50.0))
    # the typo's plan: shown, nameless, with its fact of 0 (the check plan_indicator_known names it)
    assert got[(feb, ANNA, "recipients_levle_3")] == (1, 0, -1, pytest.approx(-100.0))
    assert rows("SELECT name_ru FROM marts.mart_plan_fact WHERE indicator = 'recipients_levle_3' LIMIT 1") == [(None,)]


def test_rental_and_care_school(region):
    assert rows("SELECT month, requested, issued, returned, waiting_at_month_end, in_use_at_month_end, "
                "median_wait_days FROM marts.mart_rental_points ORDER BY 1") == [
        (D(2024, 2, 1), 1, 1, 0, 0, 1, 7), (D(2024, 3, 1), 0, 0, 0, 0, 1, None)]
    assert rows("SELECT month, oktmo, trainee_kind, trainings, people_trained, hours FROM marts.mart_care_school") == [
        (D(2024, 2, 1), VRN, "relative", 1, 1, 8)]


IDENTIFYING = re.compile(r"(surname|first_name|patronymic|snils|address|birth_date|register_id|phone|enp)")


def test_marts_carry_no_direct_identifiers(region):
    cols = rows("SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'marts'")
    assert cols and not [(t, c) for t, c in cols if IDENTIFYING.search(c)]
    # and no value of any text column is a person's name or SNILS
    names = {v for p in PEOPLE.values() for v in (p[0], p[1], p[2]) if v}
    for t, c in cols:
        values = {r[0] for r in rows(f"SELECT DISTINCT {c}::text FROM marts.{t}")}
        assert not values & names, (t, c)
    # the worklists do carry identities: that is what they are for
    assert rows("SELECT count(*) FROM worklist.worklist_reassessment_due WHERE surname IS NOT NULL")[0][0] == 1


def test_tkc_role_sees_only_its_municipality(region):
    role = f"tkc_test_{uuid.uuid4().hex[:8]}"
    rkc = f"rkc_test_{uuid.uuid4().hex[:8]}"
    both = f"tkc_test_{uuid.uuid4().hex[:8]}"
    access.grant_tkc(role, ANNA)
    access.grant_rkc(rkc)
    access.grant_tkc(both, ANNA)
    access.grant_tkc(both, [VRN])  # a ТКЦ covering two municipalities: granted ones add up
    dsn = psycopg2.extensions.parse_dsn(region)
    try:
        def as_role(name, sql):
            conn = psycopg2.connect(**{**dsn, "user": name})
            try:
                with conn.cursor() as cur:
                    cur.execute(sql)
                    return cur.fetchall()
            finally:
                conn.close()

        assert {r[0] for r in as_role(role, "SELECT oktmo FROM marts.mart_identification_funnel")} == {ANNA}
        assert as_role(role, "SELECT count(*) FROM marts.mart_recipients_by_level") == [(0,)]  # none in Anna
        assert {r[0] for r in as_role(rkc, "SELECT oktmo FROM marts.mart_identification_funnel")} == {VRN, ANNA}
        assert {r[0] for r in as_role(both, "SELECT oktmo FROM marts.mart_identification_funnel")} == {VRN, ANNA}
        # KPIs: a ТКЦ reads its municipalities' rows, never the region's (oktmo NULL); the RKC reads all
        assert as_role(role, "SELECT count(*) FROM marts.mart_kpi") == [(0,)]  # nothing in Anna
        assert {r[0] for r in as_role(both, "SELECT DISTINCT oktmo FROM marts.mart_kpi")} == {VRN}
        # Voronezh's hospitalisation rate as its ТКЦ reads it: 12 000 × 1 stay / 3 recipient-months
        assert as_role(both, "SELECT numerator, denominator, value FROM marts.mart_kpi WHERE period_kind = 'year' "
                             "AND code = 'hospitalisation_rate'") == [(1, 3, 4000)]
        assert {r[0] for r in as_role(rkc, "SELECT DISTINCT oktmo FROM marts.mart_kpi")} == {VRN, "00000000", None}
        for forbidden in ("SELECT * FROM marts.mart_data_quality", "SELECT * FROM worklist.worklist_reassessment_due",
                          "SELECT * FROM register.person", "SELECT * FROM staging.health_referral"):
            with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                as_role(role, forbidden)
        assert access.revoke_tkc(both, VRN) == 1
        assert {r[0] for r in as_role(both, "SELECT oktmo FROM marts.mart_identification_funnel")} == {ANNA}
    finally:
        with db.transaction() as conn, conn.cursor() as cur:
            for r in (role, rkc, both):
                cur.execute(f"DROP OWNED BY {r}")
                cur.execute(f"DROP ROLE {r}")


def test_monthly_report_matches_the_marts_and_renders(region, tmp_path):
    import shutil
    import subprocess

    from openpyxl import load_workbook

    from etl.reporting import report

    out = report.monthly(D(2024, 2, 1), tmp_path)
    wb = load_workbook(out["xlsx"])
    ws = wb["Получатели по уровням"]
    assert ws["A2"].value == "Муниципальное образование" and ws["C2"].value == "Получателей"
    got = [tuple(c.value for c in r) for r in ws.iter_rows(min_row=3, max_col=8)]
    want = query("SELECT municipality, care_level, recipients, entered, exited, exited_death, exited_refusal, "
                 "exited_other FROM marts.mart_recipients_by_level WHERE month = '2024-02-01' ORDER BY 1, 2")
    assert got == [tuple(r) for r in want] == [("город Воронеж", 2, 1, 1, 0, 0, 0, 0),
                                               ("город Воронеж", 3, 1, 1, 1, 1, 0, 0)]
    assert ws._charts, "a chart on the levels sheet"
    funnel = wb["Выявление"]
    # February: P2's application and card in Anna, assessed after 10 days as not needing care
    assert [tuple(c.value for c in r) for r in funnel.iter_rows(min_row=3, max_col=13)] == [
        ("Аннинский", "заявление через ЕПГУ", 2, 1, 1, 0, 0, 0, 1, 0, 0, 10, 10)]
    kpi = {r[0].value: r[1].value for r in wb["Показатели (КПЭ)"].iter_rows(min_row=3)}
    assert kpi["Трудоустроено помощников по уходу из числа не работавших"] == 1  # CA2, hired 10 Feb 2024
    assert funnel.freeze_panes == "A3"

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "Debian's chromium is installed by `make test` (make browser)"
    shot = tmp_path / "report.png"
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    "--window-size=1280,1400", f"--screenshot={shot}", f"file://{out['html']}"],
                   check=True, capture_output=True, timeout=120)
    colours = png_colours(shot.read_bytes())
    assert colours > 20, f"screenshot looks blank ({colours} colours)"
