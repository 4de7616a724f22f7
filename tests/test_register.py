"""The register on real PostgreSQL: linking, stable IDs, decisions, merges and unmerges."""
import json

import pytest

from etl.landing import load
from etl import register
from etl.base.normalize import snils_checksum
from tests.conftest import query

HEADER = "КодМО;НомерНаправления;ДатаНаправления;СНИЛС;Фамилия;Имя;Отчество;Пол;ДатаРождения;Адрес\r\n"
ADDR = "г. Лиски, ул. Мира, д. 5, кв. 7"


def snils(body: str) -> str:
    return body + snils_checksum(body)


def ingest_rows(tmp_path, name, rows):
    p = tmp_path / name
    rows = [r + [""] * (10 - len(r)) for r in rows]
    p.write_bytes((HEADER + "".join(";".join(r) + "\r\n" for r in rows)).encode("cp1251"))
    [res] = load.ingest("health", [p])
    assert res.status == "loaded" and res.quarantined == 0


def person_of(referral_id):
    return query("SELECT p.register_id FROM staging.health_referral s JOIN register.person_link l "
                 "ON l.entity = 'health_referral' AND l.stg_id = s.stg_id JOIN register.person p USING (person_id) "
                 "WHERE s.referral_id = %s", (referral_id,))[0][0]


def record_of(referral_id):
    return "health_referral", query("SELECT stg_id FROM staging.health_referral WHERE referral_id = %s",
                                    (referral_id,))[0][0]


def links():
    return query("SELECT s.referral_id, p.register_id FROM register.person_link l JOIN staging.health_referral s "
                 "ON l.entity = 'health_referral' AND s.stg_id = l.stg_id JOIN register.person p USING (person_id) "
                 "ORDER BY 1")


def test_links_by_snils_and_by_name_birth_date_with_explanations(clean_db, tmp_path):
    ingest_rows(tmp_path, "a.csv", [
        ["1", "A", "01.02.2024", "112-233-445 95", "Семёнова", "Анна", "Ильинична", "Ж", "13.12.1950", ADDR],
        ["1", "B", "02.02.2024", "11223344595", "СЕМЕНОВА", "Анна", "Ильинична", "Ж", "13.12.1950"],  # same SNILS
        ["1", "C", "03.02.2024", "", "семенова", "анна", "ильинична", "Ж", "13.12.1950", ADDR],  # no SNILS
        ["1", "D", "04.02.2024", "", "Семенова", "Анна", "Ильинична", "Ж", "14.07.1938"],  # another person
        ["1", "E", "05.02.2024", "", "Semenova", "Anna", "Ilinichna", "F", "1950-12-13", ADDR],  # Latin letters
    ])
    counts = register.build()
    assert person_of("A") == person_of("B") == person_of("C") == person_of("E")
    assert person_of("D") != person_of("A")
    assert counts["new_persons"] == 2 and counts["linked"] == 3
    rows = query("SELECT s.referral_id, l.rule, l.match_weight, l.explanation, l.model_id FROM register.person_link l "
                 "JOIN staging.health_referral s ON s.stg_id = l.stg_id ORDER BY 1")
    by = {r[0]: r[1:] for r in rows}
    assert by["A"][0] == "new" and by["D"][0] == "new"
    for rid in "BCE":
        rule, weight, explanation, model_id = by[rid]
        assert rule == "linkage" and weight > 10 and model_id is not None
        assert set(explanation) >= {"prior", "snils", "surname", "first_name", "birth_date"}
        # the stored weight is the prior plus every field's contribution
        assert weight == pytest.approx(explanation["prior"] + sum(v[1] for k, v in explanation.items()
                                                                  if k != "prior"), abs=0.01)
    assert by["B"][2]["snils"][0] == "exact"
    history = query("SELECT action, count(*) FROM register.link_history GROUP BY 1 ORDER BY 1")
    assert history == [("link", 3), ("new", 2)]
    # golden record: the latest Cyrillic record of the most trusted source, with lineage to it
    [(surname, golden)] = query("SELECT surname, golden_source FROM register.person WHERE register_id = %s",
                                (person_of("A"),))
    assert surname == "семенова" and golden["identity"] == list(record_of("C"))
    assert golden["snils"] == list(record_of("B"))


def test_two_valid_snils_are_two_people(clean_db, tmp_path):
    ingest_rows(tmp_path, "a.csv", [
        ["1", "A", "01.02.2024", "112-233-445 95", "Иванов", "Иван", "Иванович", "М", "01.03.1945", ADDR],
        ["1", "B", "01.02.2024", snils("087654303"), "Иванов", "Иван", "Иванович", "М", "01.03.1945", ADDR],
    ])
    register.build()
    assert person_of("A") != person_of("B")


def test_look_alikes_stay_apart_and_a_maiden_name_joins(clean_db, tmp_path):
    ingest_rows(tmp_path, "a.csv", [
        # twins: same surname, patronymic, birth date and address, different first names
        ["1", "T1", "01.02.2024", "", "Орлова", "Анна", "Петровна", "Ж", "02.04.1950", ADDR],
        ["1", "T2", "01.02.2024", "", "Орлова", "Вера", "Петровна", "Ж", "02.04.1950", ADDR],
        # father and son of one name at one address
        ["1", "F1", "01.02.2024", "", "Котов", "Иван", "Петрович", "М", "05.06.1940", ADDR],
        ["1", "F2", "01.02.2024", "", "Котов", "Иван", "Иванович", "М", "07.08.1966", ADDR],
        # spouses
        ["1", "S1", "01.02.2024", "", "Белов", "Олег", "Ильич", "М", "03.03.1948", "г. Анна, ул. Лесная, д. 1"],
        ["1", "S2", "01.02.2024", "", "Белова", "Нина", "Олеговна", "Ж", "09.09.1951", "г. Анна, ул. Лесная, д. 1"],
        # namesakes with different valid SNILS, same birth date
        ["1", "N1", "01.02.2024", snils("123456700"), "Попов", "Юрий", "Ильич", "М", "10.10.1944"],
        ["1", "N2", "01.02.2024", snils("223456700"), "Попов", "Юрий", "Ильич", "М", "10.10.1944"],
        # a woman under her maiden name and her married name, same SNILS nowhere, all else equal
        ["1", "M1", "01.02.2024", snils("323456700"), "Зайцева", "Галина", "Фёдоровна", "Ж", "11.11.1949",
         "г. Калач, ул. Мира, д. 9"],
        ["1", "M2", "01.02.2024", "", "Громова", "Галина", "Фёдоровна", "Ж", "11.11.1949",
         "г. Калач, ул. Мира, д. 9"],
    ])
    register.build()
    for a, b in [("T1", "T2"), ("F1", "F2"), ("S1", "S2"), ("N1", "N2")]:
        assert person_of(a) != person_of(b), (a, b)
    assert person_of("M1") == person_of("M2")


def test_snils_match_with_other_name_and_birth_date_goes_to_review(clean_db, tmp_path):
    ingest_rows(tmp_path, "a.csv", [
        ["1", "A", "01.02.2024", "112-233-445 95", "Иванов", "Иван", "Иванович", "М", "01.03.1945"],
        ["1", "B", "02.02.2024", "112-233-445 95", "Иванов", "Пётр", "Иванович", "М", "09.11.1972"],
    ])
    counts = register.build()
    assert person_of("A") != person_of("B")
    assert counts["review"] == 1
    [item] = register.review_items()
    assert item["reason"].startswith("snils_conflict") and {item["register_id_l"], item["register_id_r"]} == {
        person_of("A"), person_of("B")}
    # two persons, one SNILS: the golden SNILS stays with the older person while the pair is in review
    assert query("SELECT count(snils) FROM register.person")[0][0] == 1
    shown = register.review_item(item["review_id"])
    assert {shown["left"]["first_name"], shown["right"]["first_name"]} == {"Иван", "Пётр"}


def test_register_ids_stable_across_reruns_increments_and_rebuilds(clean_db, tmp_path):
    ingest_rows(tmp_path, "a.csv", [
        ["1", "A", "01.02.2024", "112-233-445 95", "Иванов", "Иван", "Иванович", "М", "01.03.1945"],
        ["1", "B", "01.02.2024", "", "Петрова", "Мария", "Петровна", "Ж", "02.03.1941", ADDR],
    ])
    register.build()
    before = {r: person_of(r) for r in "AB"}
    assert register.build()["records"] == 0  # re-run: nothing to do, nothing changes
    ingest_rows(tmp_path, "b.csv", [
        ["1", "C", "05.02.2024", "", "ПЕТРОВА", "Мария", "Петровна", "Ж", "02.03.1941", ADDR],
        ["1", "E", "05.02.2024", "", "Сидоров", "Олег", "Олегович", "М", "02.03.1939"],
    ])
    counts = register.build()
    assert counts["records"] == 2 and counts["new_persons"] == 1 and counts["incremental"]
    assert {r: person_of(r) for r in "AB"} == before
    assert person_of("C") == before["B"]
    assert query("SELECT count(*) FROM register.person WHERE surname IS NULL")[0][0] == 0
    mapping = links()
    register.build(rebuild=True)
    assert links() == mapping  # the same inputs give the same IDs


def test_manual_decisions_survive_later_runs(clean_db, tmp_path):
    ingest_rows(tmp_path, "a.csv", [
        ["1", "A", "01.02.2024", "", "Кузнецова", "Ольга", "Ивановна", "Ж", "04.05.1952", ADDR],
        ["1", "B", "02.02.2024", "", "Кузнецова", "Ольга", "Ивановна", "Ж", "04.05.1952", ADDR],
        ["1", "C", "03.02.2024", "", "Кузнецова", "Ольга", "Ивановна", "Ж", "04.05.1925", "г. Бобров, ул. Южная, д. 3"],
    ])
    register.build()
    assert person_of("A") == person_of("B")
    # an operator finds that B is not A: B leaves, and stays out of A's person in every later run
    out = register.decide_pair(record_of("A"), record_of("B"), "no_match", "tester", "different people")
    assert out["detached"] == person_of("B") != person_of("A")
    ingest_rows(tmp_path, "b.csv", [
        ["1", "D", "06.02.2024", "", "Кузнецова", "Ольга", "Ивановна", "Ж", "04.05.1952", ADDR],
    ])
    register.build()
    assert person_of("B") != person_of("A")
    register.build(rebuild=True)
    assert person_of("B") != person_of("A")
    # and a match decision joins what the scores would not
    register.decide_pair(record_of("A"), record_of("C"), "match", "tester", "same woman, confirmed by phone")
    assert person_of("A") == person_of("C")
    register.build(rebuild=True)
    assert person_of("A") == person_of("C") and person_of("B") != person_of("A")
    assert query("SELECT count(*) FROM register.link_history WHERE actor = 'tester'")[0][0] >= 2


def test_merge_then_unmerge_restores_the_previous_state(clean_db, tmp_path):
    ingest_rows(tmp_path, "a.csv", [
        ["1", "A", "01.02.2024", "", "Егоров", "Павел", "Павлович", "М", "01.01.1950"],
        ["1", "A2", "01.02.2024", "", "Егоров", "Павел", "Павлович", "М", "01.01.1950"],
        ["1", "B", "02.02.2024", "", "Егоров", "Павел", "Павлович", "М", "03.04.1951"],
    ])
    register.build()
    state = links()
    persons = query("SELECT register_id, status, surname, birth_date FROM register.person ORDER BY 1")
    a, b = person_of("A"), person_of("B")
    assert a != b
    out = register.merge(b, a, "tester", "one man")
    assert out["kept"] == min(a, b) and out["moved_links"] >= 1
    assert person_of("A") == person_of("B") == min(a, b)
    assert query("SELECT status, merged_into IS NOT NULL FROM register.person WHERE register_id = %s",
                 (max(a, b),)) == [("merged", True)]
    from etl.base import db
    with db.transaction() as conn, conn.cursor() as cur:
        assert register.resolve(cur, max(a, b)) == (query(
            "SELECT person_id FROM register.person WHERE register_id = %s", (min(a, b),))[0][0], "merged")
    register.unmerge(max(a, b), "tester", "two men after all")
    assert links() == state
    assert query("SELECT register_id, status, surname, birth_date FROM register.person ORDER BY 1") == persons
    actions = [r[0] for r in query("SELECT action FROM register.link_history WHERE actor = 'tester' ORDER BY 1")]
    assert "merge" in actions and "unmerge" in actions
    # the unmerge is a decision: a rebuild keeps them apart
    register.build(rebuild=True)
    assert person_of("A") != person_of("B")


def test_cli_review_and_register_commands(clean_db, tmp_path, capsys):
    from etl.cli import main

    ingest_rows(tmp_path, "a.csv", [
        ["1", "A", "01.02.2024", "112-233-445 95", "Иванов", "Иван", "Иванович", "М", "01.03.1945"],
        ["1", "B", "02.02.2024", "112-233-445 95", "Иванов", "Пётр", "Иванович", "М", "09.11.1972"],
    ])
    assert main(["register"]) == 0
    assert main(["review", "list"]) == 0
    out = capsys.readouterr().out
    review_id = int(out.splitlines()[-1].split()[0])
    assert main(["review", "show", str(review_id)]) == 0
    assert "Пётр" in capsys.readouterr().out
    assert main(["review", "decide", str(review_id), "--match", "--comment", "typo in the extract"]) == 0
    assert person_of("A") == person_of("B")
    assert main(["register", "show", person_of("A")]) == 0
    assert "merge" in capsys.readouterr().out
    assert main(["review", "decide", "999999", "--match"]) == 2
    rows = json.loads(json.dumps(query("SELECT decision, comment FROM register.review")))
    assert rows == [["match", "typo in the extract"]]
