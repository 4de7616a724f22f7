"""Landings at the same time, as separate processes on the real database (issue 22, item 2)."""
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import publish_checked, query

HEADER = "КодМО;НомерНаправления;ДатаНаправления;Фамилия;Имя;ДатаРождения\r\n"


def _csv(path: Path, start: int, n: int, tag: str) -> Path:
    """n referrals from number `start`; the file's bytes differ by `tag` (a trailing blank line count),
    so two files carry the same records without being the same file."""
    rows = "".join(f"1;R{i};01.02.2024;Иванов;Иван{i % 997};13.12.1950\r\n" for i in range(start, start + n))
    path.write_bytes((HEADER + rows + tag).encode("cp1251"))
    return path


def _people_csv(path: Path, n: int) -> Path:
    """n referrals of n different people (names and birth dates vary: the linkage has work to do, not a
    single block of namesakes)."""
    rows = "".join(f"1;P{i};01.02.2024;Фамилия{i // 7};Имя{i % 53};{1 + i % 28:02d}.{1 + i // 28 % 12:02d}."
                   f"19{30 + i // 336 % 60}\r\n" for i in range(n))
    path.write_bytes((HEADER + rows).encode("cp1251"))
    return path


def _land_at_once(pg_url: str, files: list[Path]) -> list[subprocess.CompletedProcess]:
    env = {**os.environ, "DATABASE_URL": pg_url}
    procs = [subprocess.Popen([sys.executable, "-m", "etl.cli", "ingest", "health", str(f)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for f in files]
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=600)
        out.append(subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr))
    return out


def _landing_under_way(pg_url: str, path: Path) -> subprocess.Popen:
    """`ltcreg ingest health path` in a process of its own, returned once it holds its source's lock."""
    import time

    env = {**os.environ, "DATABASE_URL": pg_url}
    landing = subprocess.Popen([sys.executable, "-m", "etl.cli", "ingest", "health", str(path)], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not query("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted")[0][0]:
        assert landing.poll() is None and time.monotonic() < deadline, "the landing did not start"
        time.sleep(0.02)
    return landing


def test_overlapping_files_landed_at_once_stage_each_record_once(clean_db, tmp_path):
    """Two files sharing 150 000 records, landed by two processes at the same moment: each record is staged
    once, the other copy is quarantined as duplicate_record (the duplicate look-up saw committed batches
    only, and both were staged)."""
    a = _csv(tmp_path / "a.csv", 0, 200_000, "")
    b = _csv(tmp_path / "b.csv", 50_000, 200_000, "\r\n")
    results = _land_at_once(clean_db, [a, b])
    assert [r.returncode for r in results] == [0, 0], [r.stderr[-500:] for r in results]
    assert query("SELECT count(*), count(DISTINCT referral_id) FROM staging.health_referral") == [(250_000, 250_000)]
    assert query("SELECT reason_code, count(*) FROM quarantine.record GROUP BY 1") == [("duplicate_record", 150_000)]
    assert query("SELECT count(*) FROM raw.record")[0][0] == 400_000


def test_the_same_file_landed_twice_at_once_lands_once(clean_db, tmp_path):
    """The same file by two processes at once: one lands it, the other reports it skipped; both exit 0."""
    a = _csv(tmp_path / "a.csv", 0, 100_000, "")
    results = _land_at_once(clean_db, [a, a])
    assert [r.returncode for r in results] == [0, 0], [r.stderr[-500:] for r in results]
    assert sorted("skipped" in r.stdout for r in results) == [False, True], [r.stdout for r in results]
    assert query("SELECT status, count(*) FROM audit.load_batch GROUP BY 1") == [("loaded", 1)]
    assert query("SELECT count(*) FROM staging.health_referral")[0][0] == 100_000


def test_two_register_builds_at_once_link_each_record_once(clean_db, region):
    """Two `ltcreg register build` processes at the same moment give the register one build would."""
    from etl.landing import load

    out, _ = region
    for source in ("health", "smev", "optima"):
        load.ingest(source, [out / source])
    env = {**os.environ, "DATABASE_URL": clean_db}
    procs = [subprocess.Popen([sys.executable, "-m", "etl.cli", "register", "build"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [p.communicate(timeout=600) + (p.returncode,) for p in procs]
    assert [r[2] for r in results] == [0, 0], [r[1][-500:] for r in results]
    # every record linked once, but the held ones: tracing sources' records that match no person
    [(records, held)] = query("SELECT count(*), count(*) FILTER (WHERE l.stg_id IS NULL) FROM "
                              "register.int_person_record r LEFT JOIN register.person_link l USING (entity, stg_id)")
    assert query("SELECT count(*), count(DISTINCT (entity, stg_id)) FROM register.person_link") == [
        (records - held, records - held)]
    assert query("SELECT count(*) FROM register.int_person_record r JOIN ref.person_source s USING (entity) "
                 "LEFT JOIN register.person_link l USING (entity, stg_id) WHERE s.founds_person AND l.stg_id IS NULL"
                 ) == [(0,)]
    persons = query("SELECT count(*) FROM register.person WHERE status = 'active'")[0][0]
    # the same inputs built once, from scratch, give the same persons
    from etl import register

    again = register.build(run_id="check", rebuild=True)
    assert again["persons"] == persons


def test_a_register_build_during_a_landing_sees_only_committed_batches(clean_db, region, tmp_path):
    """A build while a large file is being landed neither waits for it nor sees any of it: the whole file
    waits for the next build."""
    from etl import register
    from etl.landing import load

    out, _ = region
    load.ingest("optima", [out / "optima"])
    big = _people_csv(tmp_path / "big.csv", 150_000)
    landing = _landing_under_way(clean_db, big)
    first = register.build(run_id="during")
    still_landing = landing.poll() is None
    stdout, stderr = landing.communicate(timeout=600)
    assert landing.returncode == 0, stderr[-500:]
    assert still_landing, "the landing ended before the build: the test proved nothing"
    assert query("SELECT count(*) FROM register.person_link WHERE entity = 'health_referral'")[0][0] == 0
    assert first["records"] > 0  # the OPTIMA cards, none of the file in flight
    # the build recorded what it could see: batches up to one before the landing's
    [(seen, landed)] = query("SELECT (SELECT max_loaded_seq FROM register.build_run WHERE run_id = 'during'),"
                             " (SELECT loaded_seq FROM audit.load_batch WHERE source = 'health')")
    assert seen < landed
    pending = query("SELECT count(*) FROM register.int_person_record r LEFT JOIN register.person_link l"
                    " ON l.entity = r.entity AND l.stg_id = r.stg_id WHERE l.stg_id IS NULL")[0][0]
    assert pending == 150_000  # all of it waits for the next build, none half-linked


def _marts_fingerprint() -> dict[str, str]:
    """A digest per published mart; not the data-quality mart, which reports the checkpoints' own results
    (each validation adds its own)."""
    tables = [t for (t,) in query("SELECT table_name FROM information_schema.tables WHERE table_schema = 'marts'"
                                  " AND table_type = 'BASE TABLE' AND table_name <> 'mart_data_quality' ORDER BY 1")]
    return {t: query(f"SELECT count(*) || ':' || coalesce(md5(string_agg((to_jsonb(x) - 'published_at')::text, '|' ORDER BY (to_jsonb(x) - 'published_at')::text)), '')"
                     f" FROM marts.{t} x")[0][0] for t in tables}


def test_a_marts_build_during_a_landing_reads_its_snapshot(clean_db, region, tmp_path):
    """A marts build and publish while 400 000 referrals are being landed neither waits for the landing
    nor sees any of it: it publishes exactly what it would without it."""
    from etl import register
    from etl.landing import load
    from etl.orchestration import pipeline

    out, _ = region
    [first] = (out / "optima").glob("*[0-9].zip")
    [correction] = (out / "optima").glob("*-corrected.zip")
    load.ingest("health", [out / "health"])
    load.ingest("smev", [out / "smev"])
    load.ingest_file("optima", first)
    register.build("t")
    publish_checked("before")
    published = _marts_fingerprint()
    big = _people_csv(tmp_path / "big.csv", 400_000)  # long enough to outlast the marts build and publication
    landing = _landing_under_way(clean_db, big)
    pipeline.build_marts("during")
    pipeline.validate("marts", "during")
    pipeline.publish_marts("during")
    still_landing = landing.poll() is None
    _, stderr = landing.communicate(timeout=600)
    assert landing.returncode == 0, stderr[-500:]
    assert still_landing, "the landing ended before the marts build: the test proved nothing"
    assert _marts_fingerprint() == published
    # the fingerprint can tell: with OPTIMA's correcting export landed, the same build publishes other figures
    load.ingest_file("optima", correction)
    pipeline.build_marts("after")
    pipeline.validate("marts", "after")
    pipeline.publish_marts("after")
    assert _marts_fingerprint() != published


def test_two_pipeline_runs_at_once_from_one_installation(clean_db, region):
    """Two `ltcreg run` at the same moment on one landing folder and one GX project: both succeed, each
    run's expectation results are recorded whole, and the register is the one a single run gives."""
    out, _ = region
    env = {**os.environ, "DATABASE_URL": clean_db}
    procs = [subprocess.Popen([sys.executable, "-m", "etl.cli", "run", "--landing", str(out)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [p.communicate(timeout=900) + (p.returncode,) for p in procs]
    assert [r[2] for r in results] == [0, 0], [r[1][-3000:].splitlines()[-12:] for r in results]
    runs = query("SELECT run_id, count(*) FROM audit.expectation_result GROUP BY 1 ORDER BY 1")
    assert len(runs) >= 2 and len({n for _, n in runs}) == 1, runs  # every run's checkpoints complete
    assert query("SELECT status, count(*) FROM audit.load_batch GROUP BY 1") == [
        ("loaded", query("SELECT count(DISTINCT file_sha256) FROM audit.load_batch")[0][0])]
    from etl import register

    persons = query("SELECT count(*) FROM register.person WHERE status = 'active'")[0][0]
    assert register.build(run_id="check", rebuild=True)["persons"] == persons


def test_only_a_build_that_passed_its_own_checkpoint_is_published(clean_db, region, monkeypatch):
    """Airflow's register DAG builds, validates and publishes the marts in three tasks; a `ltcreg run` (or
    a run killed or failed after its build) may build into the same schema between them. Publication
    takes the latest build only if that build passed the marts checkpoint, and a validation during which
    another build landed marks nothing."""
    import pytest

    from etl import quality, register
    from etl.landing import load
    from etl.models import sqlmodels
    from etl.orchestration import pipeline

    out, _ = region
    for source in ("health", "smev", "optima"):
        load.ingest(source, [out / source])
    register.build("t")
    publish_checked("first")
    published = _marts_fingerprint()

    def other_build(run_id):  # another process, as the CLI beside Airflow is
        proc = subprocess.run([sys.executable, "-c", f"from etl.orchestration import pipeline; "
                               f"pipeline.build_marts('{run_id}')"], env={**os.environ, "DATABASE_URL": clean_db},
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-2000:]

    pipeline.build_marts("airflow")
    pipeline.validate("marts", "airflow")
    query("UPDATE staging.optima_care_report SET minutes_delivered = minutes_delivered + 60")  # it differs
    other_build("cli")                                                      # ... and is not validated
    with pytest.raises(sqlmodels.NotValidated, match="has not passed the marts checkpoint"):
        pipeline.publish_marts("airflow")
    assert _marts_fingerprint() == published  # nothing of the unvalidated build got out

    real = quality.run_checkpoint

    def build_meanwhile(checkpoint, run_id):
        outcomes = real(checkpoint, run_id)
        other_build("meanwhile")
        return outcomes
    monkeypatch.setattr(quality, "run_checkpoint", build_meanwhile)
    with pytest.raises(sqlmodels.NotValidated, match="changed while run again validated it"):
        pipeline.validate("marts", "again")
    monkeypatch.undo()
    with pytest.raises(sqlmodels.NotValidated):
        pipeline.publish_marts("again")

    pipeline.validate("marts", "third")  # the latest build, validated, goes out
    pipeline.publish_marts("third")
    assert _marts_fingerprint() != published
    assert query("SELECT run_id, validated_by, published_by FROM audit.marts_build ORDER BY build_id") == [
        ("first", "first", "first"), ("airflow", "airflow", None), ("cli", None, None),
        ("meanwhile", "third", "third")]
