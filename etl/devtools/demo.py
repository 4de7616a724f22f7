"""`ltcreg demo`: generate a region, run the real DAGs through Airflow (`dag.test()`), print a summary.

Airflow runs with a throwaway AIRFLOW_HOME and its own metadata database; the register lives in
PostgreSQL: DATABASE_URL's database, or on the embedded server a database of the demo's own per size
and seed (`ltc_demo_<persons>_<seed>`), so that a demo of another size is not landed on top of an
earlier one (two synthetic regions of one seed share people and contradict each other). Re-running
the demo is idempotent: the same seed gives the same files, which are skipped as already loaded.
"""
from __future__ import annotations

import csv
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import connectors
from etl.base import db, settings

DAGS_DIR = db.PROJECT_ROOT / "dags"


class Progress:
    def __init__(self, total: int):
        self.total, self.n, self.t0 = total, 0, time.monotonic()

    def step(self, text: str):
        self.n += 1
        print(f"[{self.n}/{self.total}] {text} …", flush=True)
        self.t = time.monotonic()

    def done(self, text: str = "done"):
        print(f"      {text} ({time.monotonic() - self.t:.1f} s)", flush=True)


def airflow_env(home: Path) -> dict:
    env = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_DIR),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "DATABASE_URL": db.database_url(),
    }
    os.environ.update(env)
    return env


def load_dag(module_file: Path, dag_id: str):
    spec = importlib.util.spec_from_file_location(f"ltc_dag_{module_file.stem}", module_file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for value in vars(module).values():
        if getattr(value, "dag_id", None) == dag_id:
            return value
    raise LookupError(f"{dag_id} not in {module_file}")


def _landing_digest(landing: Path) -> str:
    """What the generator wrote, in 8 hex digits: a generator changed since the last demo writes another region."""
    import hashlib

    h = hashlib.sha256()
    for path in sorted(p for p in landing.rglob("*") if p.is_file()):
        h.update(str(path.relative_to(landing)).encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()[:8]


def _demo_database(persons: int, seed: int, digest: str) -> str:
    """Create (once) the embedded server's database of this demo and point DATABASE_URL at it. A region of
    the same size and seed from another generator (another digest) is another region: its database is
    dropped, not landed on (two regions of one seed share people and contradict each other)."""
    from urllib.parse import urlsplit, urlunsplit

    import psycopg2

    admin = db.embedded_server_url()
    prefix = f"ltc_demo_{int(persons)}_{int(seed)}"
    name = f"{prefix}_{digest}"
    conn = psycopg2.connect(admin)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT datname FROM pg_database WHERE (datname = %s OR datname LIKE %s) AND datname <> %s",
                        (prefix, prefix + "\\_%", name))
            for (stale,) in cur.fetchall():
                try:  # not WITH (FORCE): a database someone still uses (a server, a psql) is left alone
                    cur.execute(f'DROP DATABASE "{stale}"')
                except psycopg2.errors.ObjectInUse:
                    print(f"      {stale} (another region of this size and seed) is in use: left in place", flush=True)
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cur.fetchone() is None:
                cur.execute(f'CREATE DATABASE "{name}"')
    finally:
        conn.close()
    os.environ["DATABASE_URL"] = urlunsplit(urlsplit(admin)._replace(path="/" + name))
    return name


class DemoBusy(RuntimeError):
    pass


def _lock(out: Path):
    """One demo at a time per output folder: a second one would rewrite the landing files and the
    database under the first."""
    import fcntl

    out.mkdir(parents=True, exist_ok=True)
    handle = open(out / ".lock", "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "?"
        handle.close()
        raise DemoBusy(f"another demo (process {holder}) is running in {out}; wait for it or stop it") from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


def run(persons: int = 2000, seed: int = 42, out: Path | None = None, keep_airflow: bool = False) -> int:
    out = Path(out or db.var_dir() / "demo")
    lock = _lock(out)
    try:
        return _run(persons, seed, out, keep_airflow)
    finally:
        lock.close()


def _run(persons: int, seed: int, out: Path, keep_airflow: bool) -> int:
    from etl.devtools.generate import generate

    landing = out / "landing"
    progress = Progress(8)

    progress.step(f"generating a region of {persons} persons (seed {seed}) into {landing}")
    shutil.rmtree(landing, ignore_errors=True)  # another size's files must not land with this one's
    counts = generate(landing, persons=persons, seed=seed)
    progress.done(", ".join(f"{k} {v}" for k, v in counts.items()))

    where = "DATABASE_URL"
    if not settings.current().database_url:
        where = (f"database {_demo_database(persons, seed, _landing_digest(landing))} of the embedded server under "
                 f"{db.var_dir() / 'pgdata'}")
    progress.step(f"preparing PostgreSQL ({where}) and Alembic migrations")
    db.upgrade()
    progress.done()

    progress.step("preparing a throwaway Airflow home and its metadata database")
    home = Path(tempfile.mkdtemp(prefix="ltc-airflow-"))
    env = airflow_env(home)
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env={**os.environ, **env}, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    progress.done(str(home))

    conf = {"landing_dir": str(landing)}
    failed = []
    t_run = time.monotonic()

    def run(file: str, dag_id: str, label: str, **test_args) -> None:
        progress.step(label)
        dr = load_dag(DAGS_DIR / file, dag_id).test(**test_args)
        progress.done(f"state {dr.state}")
        if str(dr.state) != "success":
            failed.append(dag_id)

    try:
        for source in (s.name for s in connectors.SOURCES):
            run("ltc_ingest.py", f"ltc_ingest_{source}", f"DAG ltc_ingest_{source}", run_conf=conf)
        run("ltc_register.py", "ltc_register", "DAG ltc_register (register → expectations → marts → publication)")
        run("ltc_export_egisso.py", "ltc_export_egisso",
            "DAG ltc_export_egisso (ЕГИССО 10.42.I packages, validated against the XSD)")
    finally:
        if not keep_airflow:
            shutil.rmtree(home, ignore_errors=True)
    print_summary(out, run_seconds=time.monotonic() - t_run)
    print_screens(embedded=where != "DATABASE_URL")
    if failed:
        print(f"\nFAILED: {', '.join(failed)} — see the validation messages above and audit.pipeline_run",
              file=sys.stderr)
        return 1
    return 0


def print_screens(embedded: bool, port: int = 8088) -> None:
    """How to open the screens on what the demo built. On the embedded server (a machine's own sample
    data) the demo makes an RKC and a ТКЦ log-in with new random passwords each run; on a configured
    server it makes none — log-ins there are the RKC's to grant."""
    import secrets
    from urllib.parse import urlsplit

    from etl.models import access

    ltcreg = Path(sys.executable).with_name("ltcreg")
    try:
        ltcreg = ltcreg.relative_to(Path.cwd())
    except ValueError:
        pass
    print("\n=== Screens (ltcreg serve) ===")
    if not embedded:
        print(f"{ltcreg} serve  →  http://127.0.0.1:{port}/ ; log-ins: ltcreg access grant-rkc | grant-tkc ИМЯ --password …")
        return
    with db.transaction() as conn, conn.cursor() as cur:
        cur.execute("SELECT oktmo, min(municipality) FROM marts.mart_recipients_by_level GROUP BY 1 "
                    "ORDER BY sum(recipients) DESC, 1 LIMIT 1")
        busiest = cur.fetchone()
    rkc_password = secrets.token_urlsafe(9)
    access.grant_rkc("demo_rkc", worklists=True, password=rkc_password)
    print(f"{ltcreg} serve --database {urlsplit(db.database_url()).path.lstrip('/')} --port {port}")
    print(f"  then http://127.0.0.1:{port}/ — РКЦ: demo_rkc / {rkc_password}", end="")
    if busiest:
        tkc_password = secrets.token_urlsafe(9)
        access.grant_tkc("demo_tkc", busiest[0], worklists=True, password=tkc_password)
        print(f"; ТКЦ ({busiest[1]}): demo_tkc / {tkc_password}", end="")
    print("\n  (a browser on another machine over plain HTTP: also LTC_WEB_SECURE_COOKIE=0 and --host 0.0.0.0)")


def print_summary(out: Path, run_seconds: float) -> None:
    from etl import quality

    with db.transaction() as conn, conn.cursor() as cur:
        print("\n=== Summary (whole register database) ===")
        cur.execute("""SELECT source, count(*) FILTER (WHERE status = 'loaded'), count(*) FILTER (WHERE status = 'rejected'),
                              coalesce(sum(n_read), 0), coalesce(sum(n_staged), 0), coalesce(sum(n_quarantined), 0)
                       FROM audit.load_batch GROUP BY source ORDER BY source""")
        print(f"{'source':8} {'files':>6} {'rejected':>8} {'read':>8} {'staged':>8} {'quarantined':>11}")
        for row in cur.fetchall():
            print(f"{row[0]:8} {row[1]:>6} {row[2]:>8} {row[3]:>8} {row[4]:>8} {row[5]:>11}")
        cur.execute("SELECT reason_code, count(*) FROM quarantine.record WHERE batch_id IN"
                    " (SELECT batch_id FROM audit.load_batch WHERE status = 'loaded') GROUP BY 1 ORDER BY 2 DESC")
        reasons = cur.fetchall()
        if reasons:
            print("quarantine by reason: " + ", ".join(f"{r} {n}" for r, n in reasons))
        cur.execute("SELECT count(*), count(snils), count(death_date) FROM register.person")
        persons, with_snils, dead = cur.fetchone()
        cur.execute("SELECT rule, count(*) FROM register.person_link GROUP BY 1 ORDER BY 1")
        links = ", ".join(f"{r} {n}" for r, n in cur.fetchall())
        print(f"register: {persons} persons ({with_snils} with a valid SNILS, {dead} deceased); links by rule: {links}")
        cur.execute("""SELECT r.entity, count(*) FROM register.int_person_record r
            LEFT JOIN register.person_link l USING (entity, stg_id) WHERE l.stg_id IS NULL GROUP BY 1 ORDER BY 1""")
        held = cur.fetchall()
        if held:  # tracing sources' records of people not on the pathway (etl/register/retention.py)
            print("held, matching no person (kept for their retention period): "
                  + ", ".join(f"{e} {n}" for e, n in held))
        cur.execute("""SELECT DISTINCT ON (suite, expectation) suite, expectation, severity, success, unexpected_count
                       FROM audit.expectation_result ORDER BY suite, expectation, result_id DESC""")
        results = cur.fetchall()
        ok = sum(r[3] for r in results)
        print(f"expectations (latest run): {ok} of {len(results)} passed")
        for suite, exp, sev, success, n in results:
            if not success:
                print(f"  {'FAIL' if sev == 'critical' else 'warn'} {suite}.{exp} ({sev}): {n} unexpected")
        cur.execute("SELECT count(*), min(month), max(month), max(published_at) FROM marts.mart_recipients_by_level")
        n, first, last, published = cur.fetchone()
        print(f"mart_recipients_by_level: {n} rows, {first} … {last}, published {published}")
        target = out / "marts" / "mart_recipients_by_level.csv"
        target.parent.mkdir(parents=True, exist_ok=True)
        cur.execute("""SELECT month, oktmo, municipality, care_level, recipients, entered, exited
                       FROM marts.mart_recipients_by_level ORDER BY month, oktmo, care_level""")
        with open(target, "w", encoding="utf-8", newline="") as f:
            w = csv.writer(f)
            w.writerow(["Месяц", "ОКТМО", "Муниципальное образование", "Уровень нуждаемости", "Получателей",
                        "Вошли в систему", "Выбыли"])
            w.writerows(cur.fetchall())
        print(f"mart written to {target}")
        cur.execute("SELECT count(*) FROM register.review WHERE status = 'open'")
        print(f"review queue: {cur.fetchone()[0]} open pairs (ltcreg review list)")
        cur.execute("SELECT count(*), coalesce(sum(records), 0), max(folder) FROM audit.egisso_package")
        packages, recipients, folder = cur.fetchone()
        cur.execute("SELECT count(*) FROM audit.egisso_object WHERE status = 'held'")
        held = cur.fetchone()[0]
        where = f", in {Path(folder).parent}" if folder else ""
        print(f"ЕГИССО export (all runs): {packages} package(s) of {recipients} recipients written{where}; {held} held back "
              "by the schema (ltcreg export egisso lists them; no adapter configured: files only)")
    if last is not None:
        from etl.reporting import report

        rep = report.monthly(last, out / "reports")
        print(f"monthly report for {last:%m.%Y}: {rep['xlsx']} and {rep['html']}")
    print(f"Data Docs: {quality.data_docs_index()}")
    print(f"pipeline run time: {run_seconds:.1f} s")
