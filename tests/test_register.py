from etl import load, register
from tests.conftest import query

HEADER = "КодМО;НомерНаправления;ДатаНаправления;СНИЛС;Фамилия;Имя;Отчество;Пол;ДатаРождения\r\n"


def ingest_rows(tmp_path, name, rows):
    p = tmp_path / name
    p.write_bytes((HEADER + "".join(";".join(r) + "\r\n" for r in rows)).encode("cp1251"))
    [res] = load.ingest("health", [p])
    assert res.status == "loaded"


def person_of(referral_id):
    return query("SELECT p.register_id FROM staging.health_referral s JOIN register.person_link l "
                 "ON l.entity = 'health_referral' AND l.stg_id = s.stg_id JOIN register.person p USING (person_id) "
                 "WHERE s.referral_id = %s", (referral_id,))[0][0]


def test_snils_then_name_and_birth_date(clean_db, tmp_path):
    ingest_rows(tmp_path, "a.csv", [
        ["1", "A", "01.02.2024", "112-233-445 95", "Семёнова", "Анна", "Ильинична", "Ж", "13.12.1950"],
        ["1", "B", "02.02.2024", "11223344595", "СЕМЕНОВА", "Анна", "Ильинична", "Ж", "13.12.1950"],  # same SNILS
        ["1", "C", "03.02.2024", "", "семенова", "анна", "ильинична", "Ж", "13.12.1950"],  # name + birth date
        ["1", "D", "04.02.2024", "", "Семенова", "Анна", "Ильинична", "Ж", "14.12.1950"],  # another person
    ])
    register.build()
    assert person_of("A") == person_of("B") == person_of("C")
    assert person_of("D") != person_of("A")
    assert query("SELECT rule, count(*) FROM register.person_link GROUP BY 1 ORDER BY 1") == [
        ("name_dob", 1), ("new", 2), ("snils", 1)]


def test_two_valid_snils_are_two_people(clean_db, tmp_path):
    other = "087654303" + __import__("etl.normalize", fromlist=["x"]).snils_checksum("087654303")
    ingest_rows(tmp_path, "a.csv", [
        ["1", "A", "01.02.2024", "112-233-445 95", "Иванов", "Иван", "Иванович", "М", "01.01.1945"],
        ["1", "B", "01.02.2024", other, "Иванов", "Иван", "Иванович", "М", "01.01.1945"],  # namesake
    ])
    register.build()
    assert person_of("A") != person_of("B")
    assert query("SELECT count(*) FROM register.person")[0][0] == 2


def test_register_ids_stable_across_reruns_and_increments(clean_db, tmp_path):
    ingest_rows(tmp_path, "a.csv", [
        ["1", "A", "01.02.2024", "112-233-445 95", "Иванов", "Иван", "Иванович", "М", "01.01.1945"],
        ["1", "B", "01.02.2024", "", "Петрова", "Мария", "Петровна", "Ж", "02.03.1941"],
    ])
    register.build()
    before = {r: person_of(r) for r in "AB"}
    assert register.build()["records"] == 0  # re-run: nothing to do, nothing changes
    ingest_rows(tmp_path, "b.csv", [
        ["1", "C", "05.02.2024", "", "ПЕТРОВА", "Мария", "Петровна", "Ж", "02.03.1941"],
        ["1", "E", "05.02.2024", "", "Сидоров", "Олег", "Олегович", "М", "02.03.1939"],
    ])
    counts = register.build()
    assert counts["records"] == 2 and counts["new"] == 1
    assert {r: person_of(r) for r in "AB"} == before
    assert person_of("C") == before["B"]
    # golden record: the death-free person keeps the best-ranked identity
    assert query("SELECT count(*) FROM register.person WHERE surname IS NULL")[0][0] == 0
