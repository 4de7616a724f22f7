"""The rules of the care model over ИППСУ, supplements and their services (issue 18, items 1–3): each
rule is data with its validity (sql/seeds), read by the check at its date; every figure below is
worked out by hand in the comments. Standard minutes are the packaged catalogue's
(sql/seeds/care_service.csv): cooking 40, bathing 45, bed_bath 40, washing 15, drinking_regime 5."""
from __future__ import annotations

import datetime as dt

import pytest

from etl import quality
from etl.base import normalize
from etl.models import sqlmodels
from tests.conftest import fixture_batch, insert_staging, query

d = dt.date


def outcomes(suite: str) -> dict:
    return {o.check: o for o in quality.run_checkpoint("staging", "test") if o.suite == suite}


def supplement(sid: str, level: int, start: dt.date, minutes: int = 600, batch_id: int | None = None, **more):
    insert_staging("optima_supplement", **({"batch_id": batch_id} if batch_id else {}), export_id="X",
                   supplement_id=sid, recipient_id="R1", care_level=level, minutes_per_week=minutes,
                   start_date=start, **more)


def services(sid: str, *rows: tuple, batch_id: int | None = None):
    """rows: (service_code, visits a day, days a week)."""
    for code, visits, days in rows:
        insert_staging("optima_supplement_service", **({"batch_id": batch_id} if batch_id else {}), export_id="X",
                       supplement_id=sid, service_code=code, visits_per_day=visits, days_per_week=days)


def config_with(tmp_path, monkeypatch, **files: str):
    """A copy of the packaged configuration with some files replaced, in force through LTC_CONFIG_DIR."""
    folder = tmp_path / "config"
    folder.mkdir(exist_ok=True)
    for p in (sqlmodels.SQL_DIR / "seeds").glob("*.csv"):
        (folder / p.name).write_bytes(p.read_bytes())
    for name, text in files.items():
        (folder / f"{name}.csv").write_text(text, encoding="utf-8")
    monkeypatch.setenv("LTC_CONFIG_DIR", str(folder))


def test_the_services_standard_minutes_stay_within_the_level_cap(clean_db, tmp_path, monkeypatch):
    # level 1, 2024 model: 840 minutes a week
    supplement("S1", 1, d(2024, 5, 1))
    services("S1", ("cooking", 1, 7), ("washing", 2, 7), ("bathing", 1, 3))   # 280 + 210 + 135 = 625 ≤ 840
    supplement("S2", 1, d(2024, 5, 1))
    services("S2", ("bed_bath", 2, 7), ("cooking", 1, 7))                    # 560 + 280 = 840 ≤ 840: the cap itself
    supplement("S3", 1, d(2024, 5, 1))
    services("S3", ("bed_bath", 2, 7), ("cooking", 1, 7), ("drinking_regime", 1, 7))  # 840 + 35 = 875 > 840
    out = outcomes("care_model_rules")
    cap = out["services_within_level_cap"]
    assert not cap.success and cap.severity == quality.CRITICAL and cap.unexpected_count == 1
    assert query("SELECT supplement_id, sum(standard_minutes_per_week) FROM register.int_supplement_service "
                 "GROUP BY 1 ORDER BY 1") == [("S1", 625), ("S2", 840), ("S3", 875)]
    # the cap changing in the middle of a month (840 until 14 March, 600 from the 15th) applies by start date;
    # so does the catalogue's standard time (cooking 40 minutes until 14 March, 50 from the 15th)
    query("DELETE FROM staging.optima_supplement_service")
    query("DELETE FROM staging.optima_supplement")
    caps = ("care_level,max_minutes_per_week,valid_from,valid_to,basis\n1,840,2024-01-01,2024-03-14,до\n"
            "1,600,2024-03-15,,после\n2,1260,2024-01-01,,2024\n3,1680,2024-01-01,,2024\n")
    catalogue = (sqlmodels.SQL_DIR / "seeds" / "care_service.csv").read_text(encoding="utf-8").replace(
        "cooking,Приготовление пищи,nutrition,40,2024-01-01,,",
        "cooking,Приготовление пищи,nutrition,40,2024-01-01,2024-03-14,до\n"
        "cooking,Приготовление пищи,nutrition,50,2024-03-15,,")
    config_with(tmp_path, monkeypatch, care_package_rule=caps, care_service=catalogue)
    supplement("S4", 1, d(2024, 3, 10))
    services("S4", ("cooking", 2, 7))                       # 2 × 7 × 40 = 560 ≤ 840 (rules of 10 March)
    supplement("S5", 1, d(2024, 3, 20))
    services("S5", ("cooking", 2, 7))                       # 2 × 7 × 50 = 700 > 600 (rules of 20 March)
    supplement("S6", 1, d(2024, 3, 20))
    services("S6", ("cooking", 1, 7), ("washing", 1, 7))    # 350 + 105 = 455 ≤ 600
    out = outcomes("care_model_rules")
    assert out["services_within_level_cap"].unexpected_count == 1  # S5
    assert query("SELECT supplement_id, standard_minutes_per_week FROM register.int_supplement_service "
                 "WHERE supplement_id IN ('S4', 'S5') ORDER BY 1") == [("S4", 560), ("S5", 700)]


def test_a_supplement_of_2022_has_no_catalogue_nor_schedule_in_force_and_is_said_so(clean_db):
    """The catalogue and the schedule limits are of the 2024 model: services of a supplement of 2022 are
    not judged against them — a warning names each service the catalogue did not have then — and the
    critical cap check passes (its standard minutes are unknown, not zero)."""
    supplement("S22", 3, d(2022, 6, 1))
    services("S22", ("cooking", 3, 7), ("washing", 3, 7))
    out = outcomes("care_model_rules")
    assert out["services_within_level_cap"].success and out["schedule_within_limits"].success
    unknown = out["service_in_catalogue"]
    assert not unknown.success and unknown.severity == quality.WARNING and unknown.unexpected_count == 2


def test_the_schedule_fits_what_its_level_allows(clean_db):
    """Levels 1–2: at most 2 visits a day on 3–7 days; levels 2–3: at most 3 a day on 5–7 days."""
    cases = [("L1a", 1, [("washing", 2, 3)], True),                  # 2 a day on 3 days
             ("L1b", 1, [("washing", 3, 7)], False),                 # 3 visits a day: level 1 allows 2
             ("L1c", 1, [("washing", 1, 2)], False),                 # on 2 days: level 1 needs 3 at least
             ("L2a", 2, [("washing", 3, 5)], True),                  # level 2 by the 3-a-day schedule
             ("L2b", 2, [("washing", 2, 3)], True),                  # level 2 by the 2-a-day schedule
             ("L2c", 2, [("washing", 3, 4)], False),                 # 3 a day needs 5 days at least
             ("L3a", 3, [("washing", 3, 7), ("cooking", 1, 5)], True),  # the most of its services: 3 a day, 7 days
             ("L3b", 3, [("washing", 2, 4), ("cooking", 1, 3)], False)]  # 4 days: level 3 needs 5
    for sid, level, rows, _ in cases:
        supplement(sid, level, d(2024, 5, 1))
        services(sid, *rows)
    out = outcomes("care_model_rules")["schedule_within_limits"]
    assert out.unexpected_count == sum(not fits for *_, fits in cases) == 4
    assert out.severity == quality.WARNING


def test_no_service_outside_the_supplement_and_a_corrected_list_replaces_the_old_one(clean_db):
    supplement("S1", 2, d(2024, 5, 1))
    services("S1", ("cooking", 1, 7), ("washing", 1, 7))
    supplement("S0", 2, d(2024, 5, 1))  # a supplement of format 1.1: no list, nothing to hold its reports to
    for rid, sid, code in (("C1", "S1", "cooking"), ("C2", "S1", "washing"), ("C3", "S1", "bathing"),
                           ("C4", "S0", "hygiene")):
        insert_staging("optima_care_report", export_id="X", report_id=rid, supplement_id=sid, recipient_id="R1",
                       month=d(2024, 5, 1), service_code=code, minutes_delivered=300)
    assert outcomes("care_model_rules")["no_service_outside_supplement"].unexpected_count == 1  # C3: bathing
    # a later export re-sends S1's services: cooking and bathing — washing is gone from the package, though
    # its row stays the current version of its own key
    later = fixture_batch("later")
    services("S1", ("cooking", 1, 7), ("bathing", 1, 3), batch_id=later)
    assert query("SELECT service_code FROM register.int_supplement_service ORDER BY 1") == [("bathing",), ("cooking",)]
    assert query("SELECT count(*) FROM register.cur_optima_supplement_service") == [(3,)]
    out = outcomes("care_model_rules")["no_service_outside_supplement"]
    assert out.unexpected_count == 1  # C2: washing, no longer in the package; C3's bathing now is


def test_a_need_above_home_care_is_offered_residential_care(clean_db, tmp_path, monkeypatch):
    # the 2024 model: above 1 680 minutes (28 hours) a week the citizen is offered residential care
    supplement("N1", 3, d(2024, 5, 1), 1680, need_minutes_per_week=1800, residential_offered=False)  # not offered
    supplement("N2", 3, d(2024, 5, 1), 1680, need_minutes_per_week=1800, residential_offered=True)
    supplement("N3", 3, d(2024, 5, 1), 1680, need_minutes_per_week=1680)                # 28 hours: not above
    supplement("N4", 3, d(2023, 5, 1), 1680, need_minutes_per_week=1800)                # no rule in force in 2023
    out = outcomes("staging_optima_supplement")["need_above_home_care_offered_residential"]
    assert out.unexpected_count == 1 and out.severity == quality.WARNING
    # the threshold changing mid-month (1 500 from 15 March 2025): a need of 1 600 from the 20th is above it,
    # from the 10th it is not
    rules = (sqlmodels.SQL_DIR / "seeds" / "care_rule.csv").read_text(encoding="utf-8").replace(
        "residential_offer_minutes_per_week,1680,минут в неделю,2024-01-01,,",
        "residential_offer_minutes_per_week,1680,минут в неделю,2024-01-01,2025-03-14,до\n"
        "residential_offer_minutes_per_week,1500,минут в неделю,2025-03-15,,")
    config_with(tmp_path, monkeypatch, care_rule=rules)
    supplement("N5", 3, d(2025, 3, 10), 1500, need_minutes_per_week=1600)
    supplement("N6", 3, d(2025, 3, 20), 1500, need_minutes_per_week=1600)
    assert outcomes("staging_optima_supplement")["need_above_home_care_offered_residential"].unexpected_count == 2


def test_priority_categories_and_identification_channels_are_the_code_lists(clean_db):
    for rid, priority, channel in (("R1", "disabled", "hotline"), ("R2", "disabled;svo_veteran", "door_to_door"),
                                   ("R3", "veteran", "regional_portal"), ("R4", None, "telepathy"),
                                   ("R5", "wwii_participant; ", "sfr")):
        insert_staging("optima_recipient", export_id="X", recipient_id=rid, surname="Орлова", first_name="Анна",
                       birth_date=d(1940, 5, 6), status="identified", priority_category=priority,
                       identified_channel=channel)
    out = outcomes("staging_optima_recipient")
    assert out["priority_category_known"].unexpected_count == 1       # R3: "veteran" is not a code
    assert out["identification_channel_known"].unexpected_count == 1  # R4
    assert {c for c, in query("SELECT code FROM ref.priority_category")} == {
        "disabled", "wwii_participant", "svo_veteran"}


@pytest.mark.parametrize("inn, valid", [("7707083893", True), ("7707083894", False), ("500100732259", True),
                                        ("500100732258", False), ("123", False), ("77070838931", False)])
def test_a_provider_inn_has_its_check_digits(inn, valid):
    assert normalize.inn_is_valid(inn) is valid


def _recipient(rid: str, surname: str, sex: str, born: dt.date, priority: str | None, start: dt.date,
               end: dt.date, delivered: dict[dt.date, int]):
    insert_staging("optima_recipient", export_id="X", recipient_id=rid, surname=surname, first_name="Анна",
                   patronymic="Петровна" if sex == "F" else "Петрович", sex=sex, birth_date=born, oktmo="20701000",
                   identified_channel="other", identified_date=start, status="receiving", priority_category=priority)
    insert_staging("optima_supplement", export_id="X", supplement_id=f"S-{rid}", recipient_id=rid, care_level=2,
                   minutes_per_week=700, provider_id="PRV1", start_date=start, end_date=end)
    for month, minutes in delivered.items():
        insert_staging("optima_care_report", export_id="X", report_id=f"CR-{rid}-{month}", supplement_id=f"S-{rid}",
                       recipient_id=rid, month=month, service_code="washing", minutes_delivered=minutes)


def test_coverage_counts_persons_older_than_working_age_or_disabled_by_the_year_boundary(
        clean_db, tmp_path, monkeypatch):
    """2024's boundary (working_age.csv): women from 58, men from 63, by the year's end."""
    from etl import register
    from etl.orchestration import pipeline

    feb, mar = d(2024, 2, 1), d(2024, 3, 1)
    full = {feb: 2900, mar: 3100}  # 700 a week: 2 900 assigned in February (29 days), 3 100 in March
    _recipient("R1", "Орлова", "F", d(1966, 12, 31), None, feb, d(2024, 3, 31), full)       # 58 by 31 Dec: older
    _recipient("R2", "Белова", "F", d(1967, 1, 1), None, feb, d(2024, 3, 31), full)         # 57: younger
    _recipient("R3", "Котов", "M", d(1970, 5, 5), "disabled", feb, d(2024, 3, 31), full)    # younger, disabled
    _recipient("R4", "Гусев", "M", d(1961, 6, 1), None, feb, d(2024, 3, 31),                # 63: older
               {feb: 2900, mar: 2000})
    _recipient("R5", "Жукова", "F", d(1950, 1, 1), None, d(2017, 3, 1), d(2017, 3, 31), {})  # 2017: no boundary
    register.build()
    # the under-delivery share changing on 15 March 2024 (0.9 → 0.6) is a month's rule from the month it
    # is in force on the 1st: March is still judged at 0.9; from April it would be 0.6
    rules = (sqlmodels.SQL_DIR / "seeds" / "care_rule.csv").read_text(encoding="utf-8").replace(
        "under_delivery_share,0.9,доля назначенных минут,2000-01-01,,",
        "under_delivery_share,0.9,доля назначенных минут,2000-01-01,2024-03-14,до\n"
        "under_delivery_share,0.6,доля назначенных минут,2024-03-15,,")
    config_with(tmp_path, monkeypatch, care_rule=rules)
    pipeline.build_marts("coverage")
    assert query("SELECT year, ltc_persons, target_persons, age_unknown_persons FROM build.mart_coverage "
                 "ORDER BY year") == [(2017, 1, 0, 1), (2024, 4, 3, 0)]
    # R4 in March: 2 000 of 3 100 = 0.645 < 0.9 → under-delivered (a share of 0.6 would not say so)
    assert query("SELECT month, under_delivered FROM build.mart_package_execution_recipient "
                 "WHERE delivered_minutes = 2000") == [(mar, True)]
    # a coverage year without a boundary is named by the marts' check, not guessed
    outcome = {o.check: o for o in quality.run_checkpoint("marts", "coverage") if o.suite == "mart_coverage"}
    assert outcome["coverage_working_age_known"].unexpected_count == 1
