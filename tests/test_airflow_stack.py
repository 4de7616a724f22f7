"""The production topology, run natively: Airflow's API server, scheduler, DAG processor and a Celery
worker (Redis broker, PostgreSQL metadata database) — the services of docker-compose.yml without
Docker. The pipeline is triggered through the REST API on generated data; the ingest runs update
the staging Assets, which must schedule the register DAG by themselves; then the register and the
marts are checked, and the UI is screenshotted in headless Chromium. Then a task fails for real (the
database refuses a late record's golden row, and its error quotes the row): Airflow retries it, fires
the failure callback (audit row, e-mail to a local SMTP catcher), and no fixture person's name, SNILS
or birth date is in any task log, service log, e-mail or Data Docs page.
"""
from __future__ import annotations

import email
import email.policy
import json
import os
import shutil
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests

from etl.base import db
from tests.conftest import PEOPLE_SQL, identity_leaks, late_record_refused, late_referral_csv

ROOT = Path(__file__).resolve().parents[1]
BROKER = os.environ.get("LTC_TEST_REDIS_URL", "redis://127.0.0.1:6379/7")
INGEST = ["ltc_ingest_health", "ltc_ingest_smev", "ltc_ingest_optima"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _sqlalchemy(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(("postgresql+psycopg2",) + tuple(parts[1:]))


class Stack:
    def __init__(self, home: Path, env: dict):
        self.home, self.env, self.procs = home, env, []

    def run(self, *args, timeout=600):
        out = subprocess.run([sys.executable, "-m", "airflow", *args], env=self.env, capture_output=True, text=True,
                             timeout=timeout, cwd=self.home)
        assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
        return out.stdout

    def start(self, name: str, *args):
        log = open(self.home / f"{name}.log", "w")
        proc = subprocess.Popen([sys.executable, "-m", "airflow", *args], env=self.env, stdout=log,
                                stderr=subprocess.STDOUT, cwd=self.home, start_new_session=True)
        self.procs.append((name, proc, log))

    def check_alive(self):
        for name, proc, _ in self.procs:
            if proc.poll() is not None:
                raise AssertionError(f"{name} exited with {proc.returncode}:\n" + self.tail(name))

    def tail(self, name: str, n: int = 4000) -> str:
        return (self.home / f"{name}.log").read_text(errors="replace")[-n:]

    def stop(self):
        for name, proc, log in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for name, proc, log in self.procs:
            try:
                proc.wait(timeout=max(1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            log.close()


class MailCatcher(socketserver.ThreadingTCPServer):
    """Enough of SMTP (RFC 5321) to receive what the failure callback sends: every message kept whole."""
    daemon_threads = allow_reuse_address = True

    def __init__(self):
        self.messages: list[str] = []

        class Session(socketserver.StreamRequestHandler):
            def handle(inner):
                def say(line):
                    inner.wfile.write(line.encode() + b"\r\n")
                say("220 ltc-test ESMTP")
                while line := inner.rfile.readline():
                    verb = line.decode(errors="replace").strip().split(" ", 1)[0].upper()
                    if verb in ("EHLO", "HELO"):
                        say("250 ltc-test")
                    elif verb == "DATA":
                        say("354 end with .")
                        body = []
                        while (part := inner.rfile.readline()) not in (b".\r\n", b".\n", b""):
                            body.append(part)
                        self.messages.append(b"".join(body).decode(errors="replace"))
                        say("250 queued")
                    elif verb == "QUIT":
                        say("221 bye")
                        return
                    else:  # MAIL, RCPT, RSET, NOOP
                        say("250 ok")

        super().__init__(("127.0.0.1", 0), Session)
        threading.Thread(target=self.serve_forever, daemon=True).start()


@pytest.fixture
def stack(clean_db, tmp_path):
    from etl.devtools.generate import generate

    landing = tmp_path / "landing"
    generate(landing, persons=150, seed=5)
    home = tmp_path / "airflow"
    home.mkdir()
    port = _free_port()
    mail = MailCatcher()
    smtp = json.dumps({"conn_type": "smtp", "host": "127.0.0.1", "port": mail.server_address[1],
                       "extra": {"disable_tls": True, "disable_ssl": True, "from_email": "ltc@example.org"}})
    with db.scratch_database("ltc_airflow_meta") as meta_url:
        meta = _sqlalchemy(meta_url)
        env = {**os.environ,
               "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
               "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
               "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": meta,
               "AIRFLOW__CELERY__BROKER_URL": BROKER,
               "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + meta_url,
               "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2",
               "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
               "AIRFLOW__API__PORT": str(port), "AIRFLOW__API__HOST": "127.0.0.1",
               "AIRFLOW__API_AUTH__JWT_SECRET": "ltc-test-secret-" + home.name,
               "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
               "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
               "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "120",
               "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
               "DATABASE_URL": clean_db, "LTC_LANDING_DIR": str(landing),
               "LTC_REPORTS_DIR": str(tmp_path / "reports"), "LTC_DB_POOL": "ltc_database",
               # failure e-mails to the catcher; a retry after seconds, not the DAGs' minutes
               "AIRFLOW_CONN_LTC_ALERTS": smtp, "LTC_ALERT_SMTP_CONN_ID": "ltc_alerts",
               "LTC_ALERT_TO": "rkc-duty@example.org", "LTC_TASK_RETRY_DELAY": "5",
               "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
        s = Stack(home, env)
        s.base, s.register_url, s.mail = f"http://127.0.0.1:{port}", clean_db, mail
        try:
            s.run("db", "migrate")
            s.run("pools", "set", "ltc_database", "2", "database-heavy tasks of the register")
            s.start("api-server", "api-server", "--port", str(port), "--host", "127.0.0.1")
            s.start("scheduler", "scheduler")
            s.start("dag-processor", "dag-processor")
            s.start("worker", "celery", "worker", "--concurrency", "2")
            yield s
        finally:
            s.stop()
            mail.shutdown()
            mail.server_close()


def wait_for(what: str, fn, stack: Stack, timeout: float = 300, every: float = 3):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        stack.check_alive()
        try:
            last = fn()
            if last:
                return last
        except requests.RequestException as e:
            last = e
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what} (last: {last})\n--- scheduler ---\n{stack.tail('scheduler')}"
                         f"\n--- worker ---\n{stack.tail('worker')}")


def test_pipeline_runs_on_the_celery_stack_through_the_rest_api(stack):
    def query(sql):  # the register database (DATABASE_URL points at the metadata one inside the fixture)
        with db.transaction(stack.register_url) as conn, conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall() if cur.description else None

    api = requests.Session()
    base = stack.base + "/api/v2"
    wait_for("the API server", lambda: api.get(f"{base}/monitor/health", timeout=5).ok, stack, timeout=120)
    wanted = set(INGEST) | {"ltc_register", "ltc_monthly_report"}

    def parsed():
        r = api.get(f"{base}/dags", params={"limit": 100}, timeout=10)
        return r.ok and wanted <= {d["dag_id"] for d in r.json()["dags"]}

    wait_for("the DAG processor to parse the project's DAGs", parsed, stack, timeout=240)
    for dag_id in INGEST + ["ltc_register"]:
        r = api.patch(f"{base}/dags/{dag_id}", json={"is_paused": False}, timeout=10)
        assert r.ok, r.text
    runs = {}
    for dag_id in INGEST:
        r = api.post(f"{base}/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": {}}, timeout=10)
        assert r.ok, r.text
        runs[dag_id] = r.json()["dag_run_id"]

    def states(dag_id):
        r = api.get(f"{base}/dags/{dag_id}/dagRuns", params={"limit": 20}, timeout=10)
        r.raise_for_status()
        return [d["state"] for d in r.json()["dag_runs"]]

    def ingest_done():
        got = {d: states(d) for d in INGEST}
        if any("failed" in s for s in got.values()):
            raise AssertionError(f"an ingest run failed: {got}\n{stack.tail('worker')}")
        return all(s and all(x == "success" for x in s) for s in got.values())

    wait_for("the ingest runs", ingest_done, stack, timeout=420)

    # no one triggers ltc_register: the staging Assets the ingest tasks updated schedule it
    def register_done():
        s = states("ltc_register")
        if "failed" in s:
            raise AssertionError(f"ltc_register failed\n{stack.tail('worker')}")
        return s and s[0] == "success" and all(x in ("success", "queued", "running") for x in s)

    wait_for("the Asset-scheduled register run", register_done, stack, timeout=600)
    r = api.get(f"{base}/dags/ltc_register/dagRuns", params={"limit": 5}, timeout=10)
    assert {d["run_type"] for d in r.json()["dag_runs"]} == {"asset_triggered"}

    persons, links = query("SELECT (SELECT count(*) FROM register.person), (SELECT count(*) FROM register.person_link)")[0]
    assert 0 < persons <= 150 and links > persons
    assert query("SELECT count(*) FROM marts.mart_recipients_by_level")[0][0] > 0
    assert query("SELECT count(*) FROM marts.mart_kpi")[0][0] > 0
    # unpausing also lets each ingest DAG's own schedule start a run: every run succeeded, files loaded once
    assert query("SELECT count(DISTINCT dag_id), bool_and(status = 'success') FROM audit.pipeline_run "
                 "WHERE dag_id LIKE 'ltc_ingest_%'") == [(3, True)]
    assert query("SELECT count(*) FROM audit.load_batch WHERE status = 'loaded'")[0][0] == len(
        [p for p in Path(stack.env["LTC_LANDING_DIR"]).rglob("*") if p.is_file() and p.name != "truth.csv"])

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "Debian's chromium is installed by `make test`"
    shot = stack.home / "ui.png"
    args = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1400,900",
            "--virtual-time-budget=20000"]
    dom = subprocess.run(args + ["--dump-dom", f"{stack.base}/dags"], capture_output=True, text=True, timeout=120)
    assert "ltc_register" in dom.stdout, dom.stdout[-2000:]
    subprocess.run(args + [f"--screenshot={shot}", f"{stack.base}/dags"], capture_output=True, timeout=120, check=True)
    assert shot.stat().st_size > 20_000  # a rendered page, not an empty canvas

    # ---- a task that really fails: Airflow retries it, then fires the failure callback -----------------
    # a late referral whose golden record the database refuses: the engine's error quotes the whole row
    (Path(stack.env["LTC_LANDING_DIR"]) / "health" / "late_referral.csv").write_bytes(late_referral_csv())
    failed_before = states("ltc_register").count("failed")
    with late_record_refused(query):
        r = api.post(f"{base}/dags/ltc_ingest_health/dagRuns", json={"logical_date": None, "conf": {}}, timeout=10)
        assert r.ok, r.text
        wait_for("the register run to fail", lambda: states("ltc_register").count("failed") > failed_before, stack,
                 timeout=600)
    runs = api.get(f"{base}/dags/ltc_register/dagRuns", params={"limit": 20, "order_by": "-start_date"},
                   timeout=10).json()["dag_runs"]
    run_id = next(d["dag_run_id"] for d in runs if d["state"] == "failed")
    ti = api.get(f"{base}/dags/ltc_register/dagRuns/{run_id}/taskInstances/build_register", timeout=10).json()
    assert ti["state"] == "failed" and ti["try_number"] == 2, ti  # retried once, as the DAG says
    # the callback, fired by Airflow: its audit row and its e-mail, in a code, a class and masked text
    [(summary,)] = query(f"SELECT summary FROM audit.pipeline_run WHERE run_id = '{run_id}/ltc_register/"
                         "build_register:failure' AND status = 'failed'")
    assert summary["error"] == "CheckViolation" and summary["try_number"] == 2, summary
    mails = wait_for("the failure e-mail", lambda: list(stack.mail.messages), stack, timeout=60)
    letters = [email.message_from_string(m, policy=email.policy.default) for m in mails]
    assert any("ltc_register.build_register" in str(m["subject"]) for m in letters), [m["subject"] for m in letters]
    texts = {f"mail {i}": "\n".join(str(m["subject"]) + "\n" + part.get_content() for part in m.walk()
                                    if part.get_content_maintype() == "text") for i, m in enumerate(letters)}

    # nobody's identity in the task logs, the services' logs, the e-mails or Data Docs
    from etl import quality

    for path in list(stack.home.rglob("*.log")) + list(stack.home.rglob("attempt=*")) + \
            list(quality.data_docs_index().parent.rglob("*.html")) + list(quality.data_docs_index().parent.rglob(
                "*.json")):
        if path.is_file():
            texts[str(path)] = path.read_text(encoding="utf-8", errors="replace")
    assert any("build_register" in t and "CheckViolation" in t for k, t in texts.items() if "attempt=2" in k), \
        "the failing task's own log was scanned"
    people = query(PEOPLE_SQL)
    assert len(people) > 150
    leaks = identity_leaks(texts, people)
    assert not leaks, leaks[:20]