import pytest

from connectors.common import FileRejected  # noqa: F401  (the loader turns it into a rejected batch)
from etl.landing import load
from tests.conftest import query


def test_every_record_lands_once_and_reloading_adds_nothing(clean_db, region):
    out, counts = region
    results = load.ingest("health", [out / "health"])
    assert results and all(r.status == "loaded" for r in results)
    for r in results:
        assert r.read == r.staged + r.quarantined
    staged = query("SELECT count(*) FROM staging.health_referral")[0][0] + \
        query("SELECT count(*) FROM staging.health_medical_event")[0][0]
    quarantined = query("SELECT count(*) FROM quarantine.record")[0][0]
    assert staged + quarantined == counts["health_referral"] + counts["health_medical_event"]
    assert query("SELECT count(*) FROM raw.record")[0][0] == staged + quarantined
    # lineage: every staged row points at its raw record
    orphans = query("SELECT count(*) FROM staging.health_referral s LEFT JOIN raw.record r "
                    "USING (batch_id, locator) WHERE r.batch_id IS NULL")[0][0]
    assert orphans == 0

    again = load.ingest("health", [out / "health"])
    assert {r.status for r in again} == {"skipped"}
    assert query("SELECT count(*) FROM raw.record")[0][0] == staged + quarantined


def test_same_records_in_a_new_file_are_quarantined_as_duplicates(clean_db, tmp_path):
    text = ("КодМО;НомерНаправления;ДатаНаправления;Фамилия;Имя;ДатаРождения\r\n"
            "1;A1;01.02.2024;Иванов;Иван;13.12.1950\r\n")
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_bytes(text.encode("cp1251"))
    b.write_bytes((text + "1;A2;01.02.2024;Петров;Пётр;01.01.1940\r\n").encode("cp1251"))
    load.ingest("health", [a])
    [res] = load.ingest("health", [b])
    assert (res.read, res.staged, res.quarantined) == (2, 1, 1)
    assert query("SELECT reason_code FROM quarantine.record") == [("duplicate_record",)]
    assert query("SELECT count(*) FROM staging.health_referral")[0][0] == 2


def test_rejected_file_is_recorded_and_stages_nothing(clean_db, tmp_path):
    p = tmp_path / "bad.zip"
    p.write_bytes(b"PK\x03\x04 broken")
    [res] = load.ingest("optima", [p])
    assert res.status == "rejected" and res.reason == "not_a_bundle"
    assert query("SELECT status, reject_reason LIKE 'not_a_bundle%' FROM audit.load_batch") == [("rejected", True)]
    assert query("SELECT count(*) FROM raw.record")[0][0] == 0


def _referrals(tmp_path, n=5):
    rows = "".join(f"1;R{i};01.02.2024;Иванов;Иван{i};13.12.1950\r\n" for i in range(n))
    p = tmp_path / "r.csv"
    p.write_bytes(("КодМО;НомерНаправления;ДатаНаправления;Фамилия;Имя;ДатаРождения\r\n" + rows).encode("cp1251"))
    return p


def test_counts_are_what_postgresql_took_and_a_lost_row_rejects_the_file(clean_db, tmp_path, monkeypatch):
    """The batch's figures are COPY counts, not read − quarantined: a table engine that loses a row on the
    way to staging (here made to, by dropping one from its routing) rejects the file and stages nothing."""
    from etl.landing import tabular

    route = tabular._route_statement
    monkeypatch.setattr(tabular, "_route_statement", lambda *a: route(*a) + " WHERE seq > 1")
    [res] = load.ingest("health", [_referrals(tmp_path)])
    assert (res.status, res.reason) == ("rejected", "reconciliation_failed")
    assert query("SELECT count(*) FROM staging.health_referral")[0][0] == 0
    assert query("SELECT count(*) FROM raw.record")[0][0] == 0
    monkeypatch.setattr(tabular, "_route_statement", route)
    [res] = load.ingest("health", [_referrals(tmp_path)])
    assert (res.status, res.read, res.staged, res.quarantined) == ("loaded", 5, 5, 0)
    assert query("SELECT n_read, n_staged, n_quarantined FROM audit.load_batch WHERE status = 'loaded'") == [(5, 5, 0)]


def test_record_sources_count_by_where_each_record_went(clean_db, tmp_path, monkeypatch):
    """Record-at-a-time sources: a record without values (unparsed) is quarantined and counted so, per
    entity too (it was counted staged while quarantined)."""
    from connectors.common import SourceRecord
    from connectors.smev import messages

    def parse(path):
        yield SourceRecord("smev_death", "m1/1", "<a/>", values=None, reason=None)

    monkeypatch.setattr(messages, "parse", parse)
    p = tmp_path / "m.xml"
    p.write_text("<x/>")
    [res] = load.ingest("smev", [p])
    assert (res.status, res.read, res.staged, res.quarantined) == ("loaded", 1, 0, 1)
    assert res.by_entity["smev_death"] == {"read": 1, "staged": 0, "quarantined": 1}


# ---- the batch-status gate (issue 21) -------------------------------------------------------------
def _seen_by_readers() -> dict:
    """What the readers of landed rows see: the register's person records, the current layer, the GX
    check of landed rows, a register build."""
    from etl import register

    build = register.build("during")  # (also makes the views)
    return {"person_records": query("SELECT count(*) FROM register.int_person_record")[0][0],
            "current": query("SELECT count(*) FROM register.cur_health_referral")[0][0],
            "build_records": build["records"],
            "rows_in_tables": query("SELECT (SELECT count(*) FROM raw.record) + (SELECT count(*) FROM"
                                    " staging.health_referral)")[0][0]}


def test_a_batch_is_seen_by_no_reader_until_it_is_loaded(clean_db, tmp_path, monkeypatch):
    """Raw, staging and quarantine are committed on their own connections before the batch is marked
    loaded: held at that moment, every reader sees none of it though its rows are in the tables; once
    loaded, all of it."""
    real, seen = load.Writers.commit, {}

    def commit_then_look(self):
        real(self)
        seen.update(_seen_by_readers())

    monkeypatch.setattr(load.Writers, "commit", commit_then_look)
    [res] = load.ingest("health", [_referrals(tmp_path, 5)])
    assert res.status == "loaded"
    assert seen == {"person_records": 0, "current": 0, "build_records": 0, "rows_in_tables": 10}
    monkeypatch.setattr(load.Writers, "commit", real)
    after = _seen_by_readers()
    assert (after["person_records"], after["current"], after["build_records"]) == (5, 5, 5)


def test_a_landing_failing_between_its_commits_leaves_nothing_and_lands_again(clean_db, tmp_path, monkeypatch):
    """Raw committed, then staging's commit fails: raw's rows are removed, the batch is `failed`, and
    the same file lands whole afterwards (it was never loaded)."""
    def raw_then_fail(self):
        self.conns[0].commit()
        self.committed = True
        raise OSError("connection lost at commit (simulated)")

    monkeypatch.setattr(load.Writers, "commit", raw_then_fail)
    path = _referrals(tmp_path, 5)
    with pytest.raises(OSError):
        load.ingest("health", [path])
    assert query("SELECT status, reject_reason, n_read FROM audit.load_batch") == [
        ("failed", "OSError: landing stopped", 0)]
    assert query("SELECT (SELECT count(*) FROM raw.record), (SELECT count(*) FROM staging.health_referral)") == [
        (0, 0)]
    monkeypatch.undo()
    [res] = load.ingest("health", [path])
    assert (res.status, res.read, res.staged) == ("loaded", 5, 5)


def test_a_batch_left_loading_is_reaped_unless_its_landing_still_holds_the_source(clean_db, tmp_path):
    """A landing that died leaves its batch `loading` with whatever it had committed; `reap` (the next
    landing of the source, every register build) removes those rows and marks it failed — but not while
    a landing of the source is under way (it holds the source's lock)."""
    from etl.base import db

    batch = query("INSERT INTO audit.load_batch (source, file_name, file_sha256, status) VALUES"
                  " ('health', 'died.csv', 'x', 'loading') RETURNING batch_id")[0][0]
    query("INSERT INTO raw.record (batch_id, locator, source, entity, file_name, content_hash, payload)"
          " SELECT %s, g::text, 'health', 'health_referral', 'died.csv', md5(g::text), '{}'"
          " FROM generate_series(1, 3) g", (batch,))
    with db.session_lock("land:health"):  # a landing of health under way
        assert load.reap() == []
        assert query("SELECT count(*) FROM raw.record") == [(3,)]
    assert load.reap() == [batch]
    assert query("SELECT status, reject_reason LIKE 'landing_died:%%3 rows%%' FROM audit.load_batch") == [
        ("failed", True)]
    assert query("SELECT count(*) FROM raw.record") == [(0,)]
    assert load.reap() == []
    # a landing reaps its own source first
    query("UPDATE audit.load_batch SET status = 'loading' WHERE batch_id = %s", (batch,))
    [res] = load.ingest("health", [_referrals(tmp_path, 2)])
    assert res.status == "loaded"
    assert query("SELECT status FROM audit.load_batch ORDER BY batch_id") == [("failed",), ("loaded",)]
