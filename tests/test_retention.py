"""Who becomes a register person, and the retention of the records of everyone else (issue 22, item 4):
an ОМС case or a medical event of someone who never enters the LTC pathway joins no person, is held
unlinked for its source's retention period, then the retention job removes it with its raw record,
and the landing reconciliation still adds up."""
from __future__ import annotations

import subprocess
import sys

from etl import quality, register
from etl.base.normalize import snils_checksum
from etl.landing import load
from tests.conftest import query

REFERRALS = "КодМО;НомерНаправления;ДатаНаправления;СНИЛС;Фамилия;Имя;Отчество;Пол;ДатаРождения;Адрес\r\n"
EVENTS = "КодМО;НомерСлучая;ВидСобытия;ДатаНачала;ДатаОкончания;Фамилия;Имя;Отчество;Пол;ДатаРождения;СНИЛС\r\n"
ORLOVA = "112233445" + snils_checksum("112233445")
KOTOV = "123456789" + snils_checksum("123456789")


def land(tmp_path, name: str, text: str):
    p = tmp_path / name
    p.write_bytes(text.encode("cp1251"))
    [res] = load.ingest("health", [p])
    assert res.status == "loaded" and res.quarantined == 0, (res.reason, res.detail)
    return res


def linked(entity: str) -> dict[str, str | None]:
    """natural id → register ID (None: held) of every staged record of a health entity."""
    key = "referral_id" if entity == "health_referral" else "event_id"
    return dict(query(f"SELECT s.{key}, p.register_id FROM staging.{entity} s LEFT JOIN register.person_link l "
                      "ON l.entity = %s AND l.stg_id = s.stg_id LEFT JOIN register.person p USING (person_id)",
                      (entity,)))


def gate(checkpoint: str) -> dict[str, bool]:
    return {o.check: o.success for o in quality.run_checkpoint(checkpoint, "test")}


def age_batches(file_name: str, days: int) -> None:
    query("UPDATE audit.load_batch SET finished_at = now() - make_interval(days => %s) WHERE file_name = %s",
          (days, file_name))


def test_trace_records_join_a_person_they_match_and_found_none(clean_db, tmp_path):
    land(tmp_path, "referrals.csv", REFERRALS +
         f"MO1;R1;01.02.2024;{ORLOVA};Орлова;Анна;Петровна;Ж;06.05.1940;г. Лиски, ул. Мира, д. 5\r\n")
    land(tmp_path, "events.csv", EVENTS +
         f"MO1;H1;госпитализация;05.03.2024;12.03.2024;Орлова;Анна;Петровна;Ж;06.05.1940;{ORLOVA}\r\n"
         f"MO1;H2;госпитализация;07.03.2024;09.03.2024;Котов;Иван;Ильич;М;02.01.1938;{KOTOV}\r\n"
         f"MO1;H3;вызов скорой помощи;10.03.2024;10.03.2024;Котов;Иван;Ильич;М;02.01.1938;{KOTOV}\r\n")
    counts = register.build()
    events = linked("health_medical_event")
    assert events["H1"] == linked("health_referral")["R1"] is not None  # Orlova's stay joins her
    assert events["H2"] is None and events["H3"] is None                # Kotov is nobody's: held
    assert counts["new_persons"] == 1 and counts["held"] == 2
    assert query("SELECT count(*) FROM register.person") == [(1,)]
    # neither a person nor a review pair is made of two held records, and the gate knows they may wait
    assert query("SELECT count(*) FROM register.review") == [(0,)]
    assert gate("register")["every_record_linked_once"]

    # nothing new: the next build does not relink the held ones (nothing could have changed for them)
    again = register.build()
    assert again["records"] == 0 and again["held"] == 2

    # Kotov's referral arrives: he enters the pathway, and both held events join him
    land(tmp_path, "referrals-2.csv", REFERRALS +
         f"MO2;R2;01.04.2024;{KOTOV};Котов;Иван;Ильич;М;02.01.1938;с. Давыдовка, ул. Лесная, д. 1\r\n")
    later = register.build()
    events = linked("health_medical_event")
    assert events["H2"] == events["H3"] == linked("health_referral")["R2"] is not None
    assert later["new_persons"] == 1 and later["held"] == 0
    rules = dict(query("SELECT s.event_id, l.rule FROM register.person_link l JOIN staging.health_medical_event s "
                       "ON l.entity = 'health_medical_event' AND s.stg_id = l.stg_id"))
    assert rules["H2"] != "new" and rules["H3"] != "new"  # a person's founding record is the referral
    # a rebuild from scratch gives the same: persons only from the pathway's records
    register.build(rebuild=True)
    assert query("SELECT count(*) FROM register.person WHERE status = 'active'") == [(2,)]


def test_retention_removes_held_records_past_their_period_and_the_books_still_balance(clean_db, tmp_path):
    land(tmp_path, "referrals.csv", REFERRALS +
         f"MO1;R1;01.02.2024;{ORLOVA};Орлова;Анна;Петровна;Ж;06.05.1940;г. Лиски, ул. Мира, д. 5\r\n")
    land(tmp_path, "old-events.csv", EVENTS +
         f"MO1;H1;госпитализация;05.03.2024;12.03.2024;Орлова;Анна;Петровна;Ж;06.05.1940;{ORLOVA}\r\n"
         f"MO1;H2;госпитализация;07.03.2024;09.03.2024;Котов;Иван;Ильич;М;02.01.1938;{KOTOV}\r\n"
         "MO1;H4;госпитализация;07.03.2024;09.03.2024;Лосев;Пётр;Ильич;М;03.03.1937;\r\n")
    register.build()
    # the next one has landed after the last build: no build has tried it yet, so it stays however old
    land(tmp_path, "untried-events.csv", EVENTS +
         "MO1;H5;госпитализация;07.03.2024;09.03.2024;Юдин;Олег;Ильич;М;04.04.1936;\r\n")
    age_batches("old-events.csv", 400)
    age_batches("untried-events.csv", 400)
    # a held record in an open review pair waits for the decision
    stg = dict(query("SELECT event_id, stg_id FROM staging.health_medical_event"))
    r1 = query("SELECT stg_id FROM staging.health_referral")[0][0]
    query("INSERT INTO register.review (entity_l, stg_id_l, entity_r, stg_id_r, reason) VALUES "
          "('health_referral', %s, 'health_medical_event', %s, 'namesake')", (r1, stg["H4"]))
    assert not gate("register")["held_records_within_retention"]  # the warning: a job not running
    raw_before = query("SELECT count(*) FROM raw.record")[0][0]

    dry = register.expire("test", dry_run=True)
    assert dry["health_medical_event"]["staged"] == 1
    assert query("SELECT count(*) FROM staging.health_medical_event") == [(4,)]  # a dry run removes nothing

    out = register.expire("test")
    assert out["health_medical_event"] == {"staged": 1, "quarantined": 0, "retention_days": 365}
    assert sorted(linked("health_medical_event")) == ["H1", "H4", "H5"]     # H2 gone; H1 is Orlova's
    assert query("SELECT count(*) FROM raw.record")[0][0] == raw_before - 1  # its raw record with it
    assert query("SELECT n_read, n_staged, n_expired_staged FROM audit.load_batch WHERE file_name = 'old-events.csv'") \
        == [(3, 3, 1)]
    assert query("SELECT dry_run, counts->'health_medical_event'->>'staged' FROM audit.retention_run "
                 "ORDER BY retention_id") == [(True, "1"), (False, "1")]
    staging = gate("staging")
    assert staging["read_equals_staged_plus_quarantined"], staging  # the books still balance
    assert register.expire("test")["health_medical_event"]["staged"] == 0  # nothing twice

    # the review decided as a match: the held record joins the person and is no longer the job's
    [review_id] = query("SELECT review_id FROM register.review")[0]
    register.decide(review_id, "match", "operator", "та же пациентка после смены фамилии")
    assert linked("health_medical_event")["H4"] == linked("health_referral")["R1"]
    register.build()
    assert register.expire("test")["health_medical_event"]["staged"] == 1  # now H5, tried by that build
    assert sorted(linked("health_medical_event")) == ["H1", "H4"]


def test_a_shorter_period_in_the_seed_applies_and_a_bad_seed_is_refused(clean_db, tmp_path, monkeypatch):
    config = tmp_path / "config"
    config.mkdir()
    from etl.models import sqlmodels

    for p in (sqlmodels.config_dir()).glob("*.csv"):
        (config / p.name).write_bytes(p.read_bytes())
    seed = (config / "person_source.csv").read_text(encoding="utf-8")
    (config / "person_source.csv").write_text(seed.replace("health_medical_event,false,365",
                                                           "health_medical_event,false,30"), encoding="utf-8")
    monkeypatch.setenv("LTC_CONFIG_DIR", str(config))
    land(tmp_path, "events.csv", EVENTS +
         f"MO1;H2;госпитализация;07.03.2024;09.03.2024;Котов;Иван;Ильич;М;02.01.1938;{KOTOV}\r\n")
    register.build()
    age_batches("events.csv", 40)
    assert register.expire("test")["health_medical_event"]["staged"] == 1
    assert query("SELECT retention_days FROM ref.person_source WHERE entity = 'health_medical_event'") == [(30,)]

    (config / "person_source.csv").write_text(seed.replace("smev_death,false,365", "smev_death,false,"),
                                              encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "etl.cli", "register", "expire"], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 2 and "needs a retention period" in proc.stderr, proc.stderr[-2000:]


def test_every_person_bearing_source_says_whether_it_founds_a_person():
    """int_person_record's branches and the seed name the same sources: a source without a row would be
    held for ever (no person founded, no period to end it)."""
    import csv
    import re

    from etl.models import sqlmodels

    text = (sqlmodels.SQL_DIR / "intermediate" / "int_person_record.sql").read_text(encoding="utf-8")
    branches = set(re.findall(r"SELECT '([a-z_]+)'", text))
    with open(sqlmodels.SQL_DIR / "seeds" / "person_source.csv", encoding="utf-8", newline="") as f:
        seed = {r["entity"]: r for r in csv.DictReader(f)}
    assert branches == set(seed) and len(branches) == 6
    assert {e for e, r in seed.items() if r["founds_person"] == "true"} == {
        "optima_recipient", "smev_application", "health_referral"}


def test_a_batch_begun_before_a_build_and_loaded_after_it_is_tried_by_the_next(clean_db, tmp_path):
    """Batches are numbered when begun and seen when loaded: a health batch still being landed while an
    OPTIMA batch (a higher number) loads and a build runs is the next build's — its stay joins Orlova,
    not held untried (the builds remember the load order, loaded_seq, not the batch number)."""
    from etl.base import db
    from tests.conftest import insert_staging

    land(tmp_path, "referrals.csv", REFERRALS +
         f"MO1;R1;01.02.2024;{ORLOVA};Орлова;Анна;Петровна;Ж;06.05.1940;г. Лиски, ул. Мира, д. 5\r\n")
    register.build()
    [(begun,)] = query("INSERT INTO audit.load_batch (source, file_name, file_sha256, status)"
                       " VALUES ('health', 'events.csv', 'e', 'loading') RETURNING batch_id")
    insert_staging("health_medical_event", batch_id=begun, event_id="H1", mo_code="MO1",
                   event_type="hospitalisation", start_date="2024-03-05", surname="Орлова", first_name="Анна",
                   patronymic="Петровна", sex="F", birth_date="1940-05-06", snils=ORLOVA)
    [(later,)] = query("INSERT INTO audit.load_batch (source, file_name, file_sha256, status)"
                       " VALUES ('optima', 'later.zip', 'l', 'loaded') RETURNING batch_id")
    assert later > begun
    with db.session_lock("land:health"):  # the health landing is still under way
        during = register.build()
    assert during["records"] == 0 and linked("health_medical_event") == {"H1": None}
    query("UPDATE audit.load_batch SET status = 'loaded' WHERE batch_id = %s", (begun,))
    after = register.build()
    assert after["records"] == 1 and after["held"] == 0
    assert linked("health_medical_event")["H1"] == linked("health_referral")["R1"] is not None
