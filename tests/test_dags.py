"""DAG integrity: every DAG file imports cleanly, fast, without touching any database."""
import json
import os
import subprocess
import sys
from pathlib import Path

DAGS = Path(__file__).resolve().parents[1] / "dags"

SCRIPT = """
import json, time
t = time.monotonic()
from airflow.models.dagbag import DagBag
bag = DagBag(dag_folder=%r)
out = {"errors": {k: str(v)[:500] for k, v in bag.import_errors.items()}, "seconds": time.monotonic() - t,
       "dags": {}}
for dag_id, dag in bag.dags.items():
    out["dags"][dag_id] = {
        "tasks": sorted(t.task_id for t in dag.tasks),
        "asset_triggered": type(dag.timetable).__name__,
        "retries": {t.task_id: t.retries for t in dag.tasks},
        "timeouts": all(t.execution_timeout is not None for t in dag.tasks),
        "callbacks": all(bool(t.on_failure_callback) for t in dag.tasks),
        "pools": sorted({t.pool for t in dag.tasks}),
        "outlets": sorted(str(getattr(o, "uri", o)) for t in dag.tasks for o in t.outlets),
    }
print("RESULT" + json.dumps(out))
"""


def parse_dags(tmp_path):
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
           "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
           # a database that does not exist: DAG files must not connect to anything at parse time
           "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none", "LTC_DB_POOL": "ltc_database"}
    proc = subprocess.run([sys.executable, "-c", SCRIPT % str(DAGS)], env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(l for l in proc.stdout.splitlines() if l.startswith("RESULT"))
    return json.loads(line[len("RESULT"):])


def test_every_dag_imports_without_errors_or_database(tmp_path):
    out = parse_dags(tmp_path)
    assert out["errors"] == {}
    dags = out["dags"]
    assert set(dags) == {"ltc_ingest_health", "ltc_ingest_smev", "ltc_ingest_optima", "ltc_register",
                         "ltc_monthly_report", "ltc_export_egisso"}
    # the export to ЕГИССО follows each publication: answers first, then what changed
    assert dags["ltc_export_egisso"]["tasks"] == ["collect_answers", "export"]
    assert "Asset" in dags["ltc_export_egisso"]["asset_triggered"]
    assert dags["ltc_monthly_report"]["tasks"] == ["build_report", "send_report"]
    assert dags["ltc_register"]["tasks"] == ["build_marts", "build_register", "expire_held", "publish_marts",
                                             "validate_marts", "validate_register", "validate_staging"]
    # data-aware: the register DAG is triggered by the staging Assets the ingest DAGs update
    assert "Asset" in dags["ltc_register"]["asset_triggered"]
    staged = {u for d in ("ltc_ingest_health", "ltc_ingest_smev", "ltc_ingest_optima") for u in dags[d]["outlets"]}
    assert staged == {"ltc://staging/health", "ltc://staging/smev", "ltc://staging/optima"}
    assert "ltc://marts/mart_recipients_by_level" in dags["ltc_register"]["outlets"]
    for d in dags.values():
        assert d["timeouts"] and d["callbacks"], d
    # every task retries a transient fault (a failed gate is not retried: ops.validate fails it at once)
    assert {(dag_id, task): n for dag_id, d in dags.items() for task, n in d["retries"].items() if n < 1} == {}
    assert all(n == 2 for dag_id, d in dags.items() if dag_id.startswith("ltc_ingest_") for n in d["retries"].values())
    # database-heavy tasks share the pool the environment names (the stack's ltc_database)
    assert dags["ltc_register"]["pools"] == dags["ltc_ingest_health"]["pools"] == dags["ltc_export_egisso"]["pools"] \
        == ["ltc_database"]


def test_failure_callback_logs_and_records_without_personal_data(clean_db, caplog):
    from types import SimpleNamespace

    from etl.orchestration.ops import on_failure
    from tests.conftest import query

    ti = SimpleNamespace(dag_id="ltc_register", task_id="validate_register", try_number=2)
    error = RuntimeError("1 critical expectation(s) failed: every_record_linked_once: 4 unexpected\nrow samples …")
    with caplog.at_level("ERROR", logger="ltc.ops"):
        on_failure({"task_instance": ti, "exception": error, "run_id": "manual__1"})
    event = json.loads(caplog.records[-1].getMessage())
    assert event["error"] == "RuntimeError" and event["try_number"] == 2
    assert "samples" not in event["message"]  # only the first line of the message travels
    assert query("SELECT status, summary->>'task_id' FROM audit.pipeline_run WHERE dag_id = 'ltc_register'") == [
        ("failed", "validate_register")]


def test_a_failed_gate_fails_its_task_without_retries_and_a_lost_connection_retries(monkeypatch):
    """ops.validate: GateFailed becomes AirflowFailException (Airflow does not retry it); any other error
    stays what it is, so the task's retries apply."""
    import psycopg2
    import pytest
    from airflow.sdk.exceptions import AirflowFailException

    from etl import quality
    from etl.orchestration import ops, pipeline

    def gate_fails(checkpoint, run_id):
        raise quality.GateFailed("1 critical expectation(s) failed — register_person.x: 3 unexpected")

    monkeypatch.setattr(pipeline, "validate", gate_fails)
    with pytest.raises(AirflowFailException, match="register_person.x: 3 unexpected"):
        ops.validate("register", "r1")

    def connection_lost(checkpoint, run_id):
        raise psycopg2.OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(pipeline, "validate", connection_lost)
    with pytest.raises(psycopg2.OperationalError):
        ops.validate("register", "r1")
