"""The worklists of the screens on a small hand-built region: who is on each list, and why. Every
expected row is worked out by hand in the comments, from the fixture rows, not by the code under test.

The data's date (int_as_of) is the last day of the last month with a care report and a supplement
running: May 2024 (A's and F's reports) — 31 May 2024.
"""
import datetime as dt

import pytest

from etl import register
from etl.models import catalog
from etl.orchestration import pipeline
from tests.conftest import insert_staging as insert
from tests.conftest import query, truncate_all

D = dt.date
VRN, ANNA = "20701000", "20605000"
PEOPLE = {  # key: (surname, first name, patronymic, sex, birth date, oktmo)
    "A": ("Алексеева", "Вера", "Ивановна", "F", D(1939, 1, 1), VRN),
    "B": ("Борисов", "Олег", "Петрович", "M", D(1944, 2, 2), VRN),
    "C": ("Власова", "Ольга", "Сергеевна", "F", D(1942, 3, 3), VRN),
    "D": ("Григорьев", "Семён", "Аркадьевич", "M", D(1936, 4, 4), VRN),
    "E": ("Дмитриева", "Лидия", "Фёдоровна", "F", D(1941, 5, 5), VRN),
    "F": ("Егоров", "Николай", "Степанович", "M", D(1933, 6, 6), VRN),
    "G": ("Жукова", "Тамара", "Львовна", "F", D(1950, 7, 7), ANNA),
    "H": ("Зуев", "Пётр", "Ильич", "M", D(1937, 8, 8), VRN),
}


def person(key, oktmo=True):
    surname, first, patr, sex, birth, place = PEOPLE[key]
    return dict(surname=surname, first_name=first, patronymic=patr, sex=sex, birth_date=birth,
                **({"oktmo": place} if oktmo else {}))


def card(key, identified, status="receiving", channel="doctor_visit", priority=None):
    insert("optima_recipient", export_id="E", recipient_id=f"R{key}", identified_channel=channel,
           identified_date=identified, status=status, priority_category=priority, **person(key))


def package(key, level, assessed, contracted, start, end, minutes, months):
    insert("optima_assessment", export_id="E", assessment_id=f"A{key}", recipient_id=f"R{key}",
           assessment_date=assessed, care_level=level)
    if contracted:
        insert("optima_contract", export_id="E", contract_id=f"C{key}", recipient_id=f"R{key}",
               supplement_id=f"S{key}", provider_id="PRV1", contract_date=contracted, start_date=start)
    if start:
        insert("optima_supplement", export_id="E", supplement_id=f"S{key}", recipient_id=f"R{key}", care_level=level,
               minutes_per_week=minutes, provider_id="PRV1", start_date=start, end_date=end)
    for month, delivered in months:
        insert("optima_care_report", export_id="E", report_id=f"CR{key}{month:%m}", supplement_id=f"S{key}",
               recipient_id=f"R{key}", month=month, service_code="hygiene", minutes_delivered=delivered)


@pytest.fixture(scope="module")
def lists(pg_url):
    truncate_all(pg_url)
    # A: level 2, a package since 1 Feb with every month reported, a disabled person; in hospital since 25 May
    card("A", D(2024, 1, 10), priority="disabled")
    package("A", 2, D(2024, 1, 20), D(2024, 1, 25), D(2024, 2, 1), None, 420,
            [(D(2024, m, 1), 1800) for m in (2, 3, 4, 5)])
    insert("health_medical_event", event_id="HA", mo_code="MO1", event_type="hospitalisation",
           start_date=D(2024, 5, 25), end_date=D(2024, 6, 5), **person("A"))
    # B: referred on 25 May — 6 days before the data's date, within the 10-day norm
    insert("health_referral", mo_code="MO1", referral_id="NB", referral_date=D(2024, 5, 25), channel="dispensary",
           consent=True, **person("B"))
    # C: referred on 10 May, never assessed — 21 days, past the norm
    insert("health_referral", mo_code="MO1", referral_id="NC", referral_date=D(2024, 5, 10),
           channel="hospital_discharge", consent=True, **person("C"))
    # D: recognised at level 1 on 1 April; no supplement, no contract
    card("D", D(2024, 3, 15), status="assessed", channel="epgu")
    package("D", 1, D(2024, 4, 1), None, None, None, None, [])
    # E: level 3, supplement 1 March – 15 June (15 days after the data's date), reports for March and April only
    card("E", D(2024, 2, 1))
    package("E", 3, D(2024, 2, 10), D(2024, 2, 20), D(2024, 3, 1), D(2024, 6, 15), 900,
            [(D(2024, 3, 1), 3000), (D(2024, 4, 1), 3000)])
    # F: died on 10 April (ЗАГС); the supplement was never closed and May's care was reported
    card("F", D(2024, 1, 5))
    package("F", 2, D(2024, 1, 12), D(2024, 1, 20), D(2024, 2, 1), None, 420,
            [(D(2024, 2, 1), 1800), (D(2024, 3, 1), 1800), (D(2024, 5, 1), 600)])
    insert("smev_death", message_id="ZF", record_number="ZF", death_date=D(2024, 4, 10), **person("F", oktmo=False))
    # G: an SVO veteran and disabled, identified on 28 May in Anna, waiting
    card("G", D(2024, 5, 28), status="identified", channel="epgu", priority="svo_veteran;disabled")
    # H: died on 20 April after the supplement closed on 31 March: nothing left open
    card("H", D(2024, 1, 8))
    package("H", 2, D(2024, 1, 15), D(2024, 1, 22), D(2024, 2, 1), D(2024, 3, 31), 420,
            [(D(2024, 2, 1), 1800), (D(2024, 3, 1), 1800)])
    insert("smev_death", message_id="ZH", record_number="ZH", death_date=D(2024, 4, 20), **person("H", oktmo=False))
    register.build()
    pipeline.build_marts("test")
    ids = {k: query("SELECT register_id FROM register.person WHERE surname = %s", (PEOPLE[k][0],))[0][0]
           for k in PEOPLE}
    return ids


def rows(name: str, *columns: str) -> list[tuple]:
    return query(f"SELECT item_key, {', '.join(columns)} FROM build.{name} ORDER BY item_key")


def test_the_data_date(lists):
    assert query("SELECT as_of FROM register.int_as_of") == [(D(2024, 5, 31),)]


def test_awaiting_assessment_past_the_norm(lists):
    # C: 10 May → 31 May is 21 days > 10; B: 6 days; G: 3 days; everybody else assessed (F and H dead)
    assert rows("worklist_assessment_overdue", "days_waiting", "oktmo", "reason") == [
        (lists["C"], 21, VRN, "нет оценки нуждаемости 21 дн. после выявления (норма 10 дн.)")]


def test_recognised_without_package_or_contract(lists):
    # D only: A and E have both; F and H are dead
    assert rows("worklist_recognised_without_package", "first_level", "reason") == [
        (lists["D"], 1, "признан нуждающимся (уровень 1), нет дополнения к ИППСУ и договора")]


def test_dead_but_still_receiving(lists):
    # F: supplement open after the death, and May reported; H's supplement ended before the death
    assert rows("worklist_dead_receiving", "death_date", "reason") == [
        (f"{lists['F']}/SF", D(2024, 4, 10), "умер(ла) по сведениям ЗАГС 2024-04-10, уход отчитан после месяца смерти")]


def test_in_hospital_now(lists):
    # A: admitted 25 May, discharged 5 June: in hospital on 31 May, 6 days, with a supplement running
    assert rows("worklist_hospitalised_now", "admitted", "days_in_hospital") == [(lists["A"], D(2024, 5, 25), 6)]


def test_no_care_report_for_the_last_month(lists):
    # E's supplement runs in May and May has no report; A reported May; F's and H's supplements end before May
    got = rows("worklist_no_care_report", "month", "supplement_id", "assigned_minutes", "reason")
    assert [r[:3] for r in got] == [(f"{lists['E']}/SE", D(2024, 5, 1), "SE")]
    assert got[0][3] > 0 and got[0][4].startswith("нет отчёта помощника за 2024-05 ")


def test_supplement_expiring(lists):
    # E: 15 June is within the 30-day notice from 31 May; A's and F's are open, H's ended in March
    assert rows("worklist_supplement_expiring", "end_date", "days_left") == [(f"{lists['E']}/SE", D(2024, 6, 15), 15)]


def test_priority_categories_waiting(lists):
    # G: no package, 28 May → 31 May; A is disabled too but has her package
    assert rows("worklist_priority_waiting", "oktmo", "days_waiting", "reason") == [
        (lists["G"], ANNA, 3, "преимущественное право (Ветеран боевых действий — участник специальной военной "
                              "операции; Инвалид): ожидает 3 дн. с выявления")]


def test_every_worklist_names_its_person_place_and_reason(lists):
    """What the screens show of any item: the register ID (the card's link), the municipality, a reason."""
    for name in catalog.named("worklists"):
        cols = {c for (c,) in query("SELECT column_name FROM information_schema.columns WHERE table_schema = 'build' "
                                    "AND table_name = %s", (name,))}
        assert {"item_key", "register_id", "surname", "first_name", "birth_date", "oktmo", "municipality",
                "reason"} <= cols, (name, cols)
