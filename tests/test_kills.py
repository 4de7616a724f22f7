"""kill -9 in the middle of the work, then a re-run: the database ends exactly as after a clean run
(issue 22, item 3; the landing's batch-status gate, issue 21). Real processes on the real PostgreSQL; each
kill lands while the process has the database at work (its connection is seen busy in pg_stat_activity),
at several delays after that — a landing at random points over a clean landing's duration.

What is compared: the row count of every table of the data schemas, except the logs of runs (which
rightly remember a killed attempt; a killed landing's batch is remembered as failed). A kill may also
never leave a half state visible: right after it, every table holds, as its readers see it, either what
it held before the step or what a clean step leaves. A landing's rows are seen by readers only when their
batch is loaded (raw, staging and quarantine are written on connections of their own and committed
before that): right after a kill some may be there unseen, and the re-run removes them.
"""
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from lxml import etree

from tests.conftest import DATA_SCHEMAS, query, truncate_all
from tests.test_concurrency import _csv

APP = "ltc-kill-test"
MINE = "FROM pg_stat_activity WHERE datname = current_database() AND application_name = %s"  # this test run's
# logs of runs and attempts: a killed attempt may be remembered there
LOGS = {"audit.pipeline_run", "audit.expectation_result", "audit.marts_build",  # one row per attempt
        "register.build_run"}  # (a build killed after its commit, before exiting, and run again: two)
DELAYS = (0.0, 0.4, 1.2)


LANDED = ("raw.", "staging.", "quarantine.")  # tables whose rows carry their batch


def _state(visible: bool = False) -> dict[str, int]:
    """Rows per table; `visible`: as readers see them — landed rows of loaded batches only."""
    tables = [t for (t,) in query(
        "SELECT table_schema || '.' || table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE'"
        " AND table_schema = ANY(%s) AND table_name <> 'alembic_version' ORDER BY 1", (DATA_SCHEMAS,))]
    loaded = "batch_id IN (SELECT batch_id FROM audit.load_batch WHERE status = 'loaded')"
    where = {t: loaded for t in tables if visible and t.startswith(LANDED)}
    # a killed landing's batch stays in the audit as failed (its rows gone): a clean run has none
    where["audit.load_batch"] = "status = 'loaded'" if visible else "status <> 'failed'"
    return {t: query(f"SELECT count(*) FROM {t}" + (f" WHERE {where[t]}" if t in where else ""))[0][0]
            for t in tables if t not in LOGS}


def _start(pg_url: str, argv: list[str]) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": pg_url, "PGAPPNAME": APP}
    return subprocess.Popen([sys.executable, *argv], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _kill_while_busy(proc: subprocess.Popen, delay: float) -> bool:
    """Wait until the process's connection is busy in the database, `delay` s more, then kill -9.
    Returns whether it was killed (False: it finished first)."""
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        busy = query(f"SELECT count(*) {MINE} AND state <> 'idle'"
                     " AND pid <> pg_backend_pid()", (APP,))[0][0]
        if busy:
            break
        time.sleep(0.02)
    time.sleep(delay)
    if proc.poll() is not None:
        return False
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    # the server notices the lost client and rolls its transaction back; wait for its backend to go
    deadline = time.monotonic() + 60
    while query(f"SELECT count(*) {MINE}", (APP,))[0][0]:
        assert time.monotonic() < deadline, "the killed process's backend is still there after 60 s"
        time.sleep(0.05)
    return True


def _run(pg_url: str, argv: list[str]) -> subprocess.CompletedProcess:
    proc = _start(pg_url, argv)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-2000:]
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


def _no_half_state(after_kill: dict, before: dict, clean: dict) -> None:
    # (the build schema may hold a whole committed build awaiting its checkpoint: a step's output, not half)
    half = {t: (before.get(t, 0), n, clean.get(t, 0)) for t, n in after_kill.items()
            if n not in (before.get(t, 0), clean.get(t, 0)) and not t.startswith("build.")}
    assert not half, f"tables in a half state after kill -9 (before, after the kill, clean): {half}"


def _no_half_batch(*_states) -> None:
    """A landing of several files is several batches: after a kill some may be loaded and some not.
    What may not be seen is part of a batch — each loaded batch whole (its rows in raw, staging and
    quarantine as its figures say), the rest of none of them."""
    from etl.quality.suites import STAGED_ROWS

    loaded = "SELECT batch_id FROM audit.load_batch WHERE status = 'loaded'"
    part = query(f"""
        WITH r AS (SELECT batch_id, count(*) AS n FROM raw.record WHERE batch_id IN ({loaded}) GROUP BY 1),
             s AS (SELECT batch_id, count(*) AS n FROM ({STAGED_ROWS}) x WHERE batch_id IN ({loaded}) GROUP BY 1),
             q AS (SELECT batch_id, count(*) AS n FROM quarantine.record WHERE batch_id IN ({loaded}) GROUP BY 1)
        SELECT b.batch_id, b.n_read, r.n, b.n_staged, s.n, b.n_quarantined, q.n FROM audit.load_batch b
        LEFT JOIN r USING (batch_id) LEFT JOIN s USING (batch_id) LEFT JOIN q USING (batch_id)
        WHERE b.status = 'loaded' AND (b.n_read <> coalesce(r.n, 0) OR b.n_staged <> coalesce(s.n, 0)
                                       OR b.n_quarantined <> coalesce(q.n, 0))""")
    assert not part, f"loaded batches seen in part after kill -9 (batch, read, raw, staged, …): {part}"


def _killed_then_rerun(pg_url, prepare, argv: list[str], rerun: list[str] | None = None,
                       delays=lambda clean_seconds: DELAYS, no_half=_no_half_state, after_kill=None) -> None:
    """A clean run of `argv` after `prepare`, then, for each delay, the same killed and run again: the
    state after the re-run equals the clean one, and no kill left a half state. `delays`: of the clean
    run's duration, the delays to kill at; a step that ends before its kill is run again with the delay
    halved, twice at most."""
    truncate_all(pg_url)
    prepare()
    before = _state()
    started = time.monotonic()
    _run(pg_url, argv)
    clean = _state()
    assert clean != before, "the step under test changed nothing: nothing to kill"
    killed = 0
    for delay in delays(time.monotonic() - started):
        for _ in range(3):
            truncate_all(pg_url)
            prepare()
            proc = _start(pg_url, argv)
            if _kill_while_busy(proc, delay):
                break
            # it finished first: that was a clean run. The clean run that set the delays may have been
            # the slow one (CI: 1 of 4 kills landed), so the point moves earlier and the step runs again
            assert proc.returncode == 0 and _state() == clean, f"finished before the kill at +{delay} s"
            delay = round(delay / 2, 2)
        else:
            continue
        killed += 1
        no_half(_state(visible=True), before, clean)
        if after_kill:
            after_kill(proc.pid)
        _run(pg_url, rerun or argv)
        assert _state() == clean, f"after kill -9 at +{delay} s and a re-run"
    assert killed >= 2, f"only {killed} kills landed before the step ended"


def _random_points(seed: int, n: int):
    """n random delays over a clean run's duration (its start-up included: the kill waits for the
    database to be busy first), reproducible by the seed the failure message names."""
    def points(clean_seconds: float) -> list[float]:
        rng = random.Random(seed)
        return sorted(round(rng.uniform(0, clean_seconds * 0.8), 2) for _ in range(n))
    return points


@pytest.mark.parametrize("seed", [21, 2103])
def test_a_landing_killed_at_random_points_then_rerun_lands_as_a_clean_run(clean_db, tmp_path, seed):
    """A table source (raw beside staging and quarantine, on two connections): killed anywhere, nothing
    half-landed is seen, and a re-run lands exactly what a clean run does (no duplicates, nothing lost)."""
    f = _csv(tmp_path / "big.csv", 0, 200_000, "")
    dup = _csv(tmp_path / "again.csv", 199_000, 2_000, "")  # 1 000 duplicates of the first file's rows
    _killed_then_rerun(clean_db, lambda: None, ["-m", "etl.cli", "ingest", "health", str(f), str(dup)],
                       delays=_random_points(seed, 4), no_half=_no_half_batch)
    assert query("SELECT count(*) FROM quarantine.record WHERE reason_code = 'duplicate_record'") == [(1000,)]
    assert query("SELECT count(*) FROM audit.load_batch WHERE status = 'loaded'") == [(2,)]
    assert query("SELECT count(*) FROM raw.record WHERE batch_id NOT IN"
                 " (SELECT batch_id FROM audit.load_batch WHERE status = 'loaded')") == [(0,)]


def _workers_of(pid: int) -> list[int]:
    """Live ОМС parse workers started by process `pid` (they carry its pid in their environment)."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            env = (proc / "environ").read_bytes().split(b"\0")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if f"LTC_PARSE_PARENT={pid}".encode() in env and state != "Z":
            found.append(int(proc.name))
    return found


def test_an_oms_register_landing_killed_leaves_no_worker_and_no_scratch(clean_db, tmp_path, monkeypatch):
    """An ОМС register large enough to be parsed in parts by worker processes, killed at random points:
    its workers die with it (they would parse on for nobody), the scratch folders it leaves in TMPDIR
    (extracted cases, DuckDB's files: a few times the register) are removed by the next landing, and the
    re-run lands as a clean run does."""
    from bench.ingest_xml import make_register

    folder = tmp_path / "in"
    folder.mkdir()
    h, _ = make_register(folder, 40)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    left_behind = []

    def after_kill(pid: int) -> None:
        deadline = time.monotonic() + 1  # the parent-death signal is immediate; a part takes seconds
        while _workers_of(pid):
            assert time.monotonic() < deadline, f"parse workers of the killed landing still run: {_workers_of(pid)}"
            time.sleep(0.05)
        left_behind.extend(p.name for p in scratch.iterdir() if f"-{pid}-" in p.name)

    random_points = _random_points(5, 3)
    _killed_then_rerun(clean_db, lambda: None, ["-m", "etl.cli", "ingest", "health", str(h)],
                       delays=lambda clean: [0.3, *random_points(clean)],  # 0.3 s: while the parts are parsed
                       no_half=_no_half_batch, after_kill=after_kill)
    assert left_behind, "no kill left a scratch folder: the sweep was not put to the test"
    assert list(scratch.iterdir()) == []


def test_a_record_source_landing_killed_then_rerun_lands_as_a_clean_run(clean_db, region):
    """A record-at-a-time source (the OPTIMA bundle: all on one connection, the same gate)."""
    out, _ = region
    _killed_then_rerun(clean_db, lambda: None, ["-m", "etl.cli", "ingest", "optima", str(out / "optima")],
                       delays=_random_points(7, 3), no_half=_no_half_batch)


def _landed(out: Path):
    def prepare():
        from etl.landing import load

        for source in ("health", "smev", "optima"):
            load.ingest(source, [out / source])
    return prepare


def test_a_register_build_killed_then_rerun_builds_as_a_clean_run(clean_db, region):
    out, _ = region
    _killed_then_rerun(clean_db, _landed(out), ["-m", "etl.cli", "register", "build"])


def test_a_marts_build_and_publish_killed_then_rerun_publish_as_a_clean_run(clean_db, region):
    out, _ = region

    def prepare():
        from etl import register

        from etl.orchestration import pipeline

        _landed(out)()
        register.build("prepare")
        for checkpoint in ("staging", "register"):  # the marts checkpoint reads their results
            pipeline.validate(checkpoint, "prepare")
    code = ("from etl.orchestration import pipeline; pipeline.build_marts('k'); pipeline.validate('marts', 'k');"
            " pipeline.publish_marts('k')")
    _killed_then_rerun(clean_db, prepare, ["-c", code])


# ---- between storing and acknowledging, between landing and moving the watermark ---------------------
# These points are reached in a child process whose store step kills it the moment the real one returns:
# no hook in the product, the kill is the test's.

def _adapter_messages(out: Path) -> list[tuple[str, bytes]]:
    """The generated region's SMEV messages as the adapter serves them (QueryResult with the content)."""
    from tests.test_smev_transport import adapter_envelope

    msgs = []
    for path in sorted((out / "smev").glob("*.xml"))[:6]:
        root = etree.parse(str(path))
        mid = root.find(".//{*}MessageID").text
        msgs.append((mid, adapter_envelope(mid, root)))
    return msgs


KILL_AFTER_STORE = """
import os, signal, sys
from pathlib import Path
from connectors.smev.transport import AdapterClient, poll
from etl.landing import load

def store(path):
    load.ingest_file("smev", path)
    os.kill(os.getpid(), signal.SIGKILL)  # stored, not yet acknowledged

poll(AdapterClient(sys.argv[1], "LTC36001", timeout=(2, 5)), Path(sys.argv[2]), store)
"""


def test_an_smev_poll_killed_between_store_and_acknowledge_stores_each_message_once(clean_db, region, tmp_path):
    from tests.test_smev_transport import FakeAdapter

    out, _ = region
    msgs = _adapter_messages(out)
    with FakeAdapter(msgs) as fake:  # a clean poll: every message stored and acknowledged
        _run(clean_db, ["-m", "etl.cli", "smev-poll", "--url", fake.url, "--it-system", "LTC36001", "--landing", str(tmp_path / "clean")])
        assert fake.queue == []
    clean = _state()
    truncate_all(clean_db)
    with FakeAdapter(msgs) as fake:
        proc = _start(clean_db, ["-c", KILL_AFTER_STORE, fake.url, str(tmp_path / "killed")])
        proc.wait(timeout=120)
        assert proc.returncode == -signal.SIGKILL
        assert fake.acked == [] and len(fake.queue) == len(msgs)  # stored, never acknowledged
        assert query("SELECT count(*) FROM audit.load_batch WHERE status = 'loaded'") == [(1,)]
        # the adapter delivers the first message again: found stored, acknowledged, not staged twice
        result = _run(clean_db, ["-m", "etl.cli", "smev-poll", "--url", fake.url, "--it-system", "LTC36001", "--landing", str(tmp_path / "killed")])
        assert fake.queue == [] and sorted(fake.acked) == sorted(m for m, _ in msgs), result.stdout
    assert _state() == clean


KILL_BEFORE_WATERMARK = """
import os, signal, sys
from connectors.optima import api
from etl.orchestration import pipeline

real = api.save_watermarks
def save(cur, marks, batch_id):
    if batch_id is not None:  # the bundle is landed: die before the watermarks move
        os.kill(os.getpid(), signal.SIGKILL)
    real(cur, marks, batch_id)
api.save_watermarks = save
pipeline.pull_optima(sys.argv[1], "killed", landing=sys.argv[2])
"""


def test_an_optima_pull_killed_after_landing_before_the_watermark_lands_once(clean_db, tmp_path, region):
    from etl.orchestration import pipeline
    from tests.test_optima_http import ExportServer, bundle_tables

    tables = bundle_tables(region)
    srv = ExportServer(tables)
    try:
        pipeline.pull_optima(srv.url, "clean", landing=tmp_path / "clean")
        clean = _state()
        truncate_all(clean_db)
        proc = _start(clean_db, ["-c", KILL_BEFORE_WATERMARK, srv.url, str(tmp_path / "killed")])
        proc.wait(timeout=120)
        assert proc.returncode == -signal.SIGKILL, proc.stderr.read()[-2000:]
        assert query("SELECT count(*) FROM audit.source_watermark") == [(0,)]  # landed, watermarks not moved
        again = pipeline.pull_optima(srv.url, "rerun", landing=tmp_path / "killed")
    finally:
        srv.httpd.shutdown()
    # the re-run asks from the old watermarks, gets the same rows and lands them as a repeat of the
    # landed bundle: nothing is staged twice, and the watermarks move now
    assert again["status"] in ("loaded", "skipped"), again
    after = _state()
    staged = {t: n for t, n in after.items() if t.startswith(("staging.", "register.", "marts."))}
    assert staged == {t: n for t, n in clean.items() if t.startswith(("staging.", "register.", "marts."))}
    assert after["audit.source_watermark"] == clean["audit.source_watermark"]
    assert dict(query("SELECT stream, watermark FROM audit.source_watermark"))["recipients"] == max(
        r["updated_at"] for r in tables["recipients"])


@pytest.fixture(autouse=True)
def _no_stray_process():
    yield
    # a process that exited has closed its connections; their backends end a moment later
    deadline = time.monotonic() + 10
    while (leftover := query(f"SELECT count(*) {MINE}",
                             (APP,))[0][0]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert leftover == 0
