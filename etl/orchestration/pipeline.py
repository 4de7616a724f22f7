"""The pipeline's steps as plain functions: what the DAG tasks and the CLI call.

Each step is idempotent: landing skips files already loaded, the register links only unlinked
records, marts are rebuilt from scratch and replaced atomically. What a step raises leaves it with its
values masked (etl/base/redact.py): task logs and failure e-mails carry no record's identity.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

from etl.base import db, settings
from etl.base.redact import guarded

log = logging.getLogger(__name__)


def landing_dir(source: str, base: str | None = None) -> Path:
    root = Path(base or settings.current().landing_dir or db.var_dir() / "landing")
    return root / source


def record_step(run_id: str, dag_id: str, step: str, status: str, summary: dict | None = None) -> None:
    with db.transaction() as conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO audit.pipeline_run (run_id, dag_id, step, status, finished_at, summary)"
            " VALUES (%s, %s, %s, %s, now(), %s)"
            " ON CONFLICT (run_id) DO UPDATE SET status = excluded.status, finished_at = now(),"
            " summary = excluded.summary",
            (f"{run_id}/{dag_id}/{step}", dag_id, step, status, json.dumps(summary or {}, ensure_ascii=False,
                                                                            default=str)))


@guarded
def ingest(source: str, folder: Path, run_id: str) -> dict:
    from etl.landing import load

    db.upgrade()
    results = load.ingest(source, [folder], run_id=run_id) if Path(folder).exists() else []
    summary = {
        "files": len(results),
        "loaded": sum(r.status == "loaded" for r in results),
        "skipped": sum(r.status == "skipped" for r in results),
        "rejected": [f"{Path(r.path).name}: {r.reason}: {r.detail}" for r in results if r.status == "rejected"],
        "read": sum(r.read for r in results), "staged": sum(r.staged for r in results),
        "quarantined": sum(r.quarantined for r in results),
    }
    record_step(run_id, f"ltc_ingest_{source}", "ingest", "success", summary)
    return summary


@guarded
def pull_optima(url: str, run_id: str, token: str | None = None, landing: Path | None = None) -> dict:
    """Pull the OPTIMA export API since the stored watermarks, land the bundle, then move them."""
    from connectors.optima import api as optima_http
    from etl.landing import load

    db.upgrade()
    with db.transaction() as conn, conn.cursor() as cur:
        marks = optima_http.load_watermarks(cur)

    def save(new_marks, landed):
        with db.transaction() as conn, conn.cursor() as cur:
            optima_http.save_watermarks(cur, new_marks, getattr(landed, "batch_id", None))

    result = optima_http.pull(optima_http.ExportClient(url, token=token), Path(landing or landing_dir("optima")),
                              lambda p: load.ingest_file("optima", p, run_id), marks, save)
    summary = {"status": result.status, "rows": result.rows, "bundle": str(result.bundle) if result.bundle else None,
               "watermarks": result.watermarks}
    record_step(run_id, "ltc_ingest_optima", "pull_api", "success", summary)
    return summary


@guarded
def build_register(run_id: str, rebuild: bool = False) -> dict:
    from etl import register

    from etl.models import sqlmodels

    db.upgrade()
    sqlmodels.refresh_configuration()
    counts = register.build(run_id, rebuild=rebuild)
    record_step(run_id, "ltc_register", "build_register", "success", counts)
    return counts


@guarded
def expire_held(run_id: str, dry_run: bool = False) -> dict:
    """The retention job: records of sources that found no person, unmatched past their period, go."""
    from etl.register import retention

    db.upgrade()
    counts = retention.expire(run_id, dry_run=dry_run)
    record_step(run_id, "ltc_register", "expire_held", "success", counts)
    return counts


@guarded
def validate(checkpoint: str, run_id: str) -> dict:
    """Run a checkpoint; raise GateFailed (and record it) when a critical expectation fails."""
    from etl import quality
    from etl.models import sqlmodels

    if checkpoint == "marts":  # the build this validation is of (another may replace it meanwhile)
        with db.transaction() as conn, conn.cursor() as cur:
            build = sqlmodels.latest_build(cur)
    outcomes = quality.run_checkpoint(checkpoint, run_id)
    for o in outcomes:
        (log.info if o.success else log.warning)(o.line())
    summary = {"passed": sum(o.success for o in outcomes),
               "failed_critical": [o.line() for o in outcomes if not o.success and o.severity == quality.CRITICAL],
               "warnings": [o.line() for o in outcomes if not o.success and o.severity == quality.WARNING]}
    try:
        quality.gate(outcomes)
    except quality.GateFailed as e:
        record_step(run_id, "ltc_register", f"validate_{checkpoint}", "failed", {**summary, "error": str(e)})
        raise
    if checkpoint == "marts":
        with db.transaction() as conn, conn.cursor() as cur:
            sqlmodels.mark_validated(cur, build, run_id)
    record_step(run_id, "ltc_register", f"validate_{checkpoint}", "success", summary)
    return summary


@guarded
def build_marts(run_id: str) -> dict:
    from etl.models import sqlmodels

    sqlmodels.refresh_configuration()  # first, on its own: the build's snapshot then finds it current
    with db.transaction() as conn, conn.cursor() as cur:
        counts = sqlmodels.build_all(cur)
        sqlmodels.stamp_build(cur, run_id)
    record_step(run_id, "ltc_register", "build_marts", "success", counts)
    return counts


@guarded
def publish_marts(run_id: str) -> dict:
    from etl.models import sqlmodels

    with db.transaction() as conn, conn.cursor() as cur:
        sqlmodels.check_validated(cur, run_id)
        counts = {name: sqlmodels.publish_mart(cur, name, "build") for name in sqlmodels.MARTS}
    record_step(run_id, "ltc_register", "publish_marts", "success", counts)
    return counts


@guarded
def collect_egisso_answers(run_id: str) -> dict:
    """ЕГИССО's answers to the packages sent (through the SMEV adapter, when one is configured), reconciled."""
    from etl.export import egisso

    db.upgrade()
    client = egisso.adapter()
    done = egisso.collect_answers(client) if client is not None else []
    summary = {"answers": len(done), "accepted": sum(r.accepted for r in done),
               "refused": sum(len(r.rejected) for r in done), "adapter": client is not None}
    record_step(run_id, "ltc_export_egisso", "collect_answers", "success", summary)
    return summary


@guarded
def export_egisso(run_id: str, out: Path | None = None) -> dict:
    """What changed since ЕГИССО's last accepted state, as 10.42.I packages validated against the XSD:
    written to var/export/egisso (or `out`), and sent when an SMEV adapter is configured."""
    from etl.export import egisso

    db.upgrade()
    client = egisso.adapter()
    res = egisso.export(Path(out or (settings.current().var_dir or db.var_dir()) / "export" / "egisso"), run_id,
                        send=egisso.sender(client) if client is not None else None)
    # the register ids held back, never their values (the schema's messages name elements, not data)
    summary = {"packages": len(res.packages), "recipients": res.sent, "withdrawn": res.withdrawn,
               "unchanged": res.unchanged, "held_back": [key for key, _ in res.held]}
    record_step(run_id, "ltc_export_egisso", "export", "success", summary)
    return summary


@guarded
def run_all(landing_base: str | None, run_id: str) -> dict:
    """The whole pipeline without Airflow (used by `ltcreg run` and tests). Two runs on one database
    go one after the other: the marts are built into one `build` schema, validated there and then
    published, and another run's build must not land between (Airflow runs the register DAG one run
    at a time for the same reason)."""
    import connectors

    with db.session_lock("ltc:pipeline_run"):
        out = {s.name: ingest(s.name, landing_dir(s.name, landing_base), run_id) for s in connectors.SOURCES}
        out["expire_held"] = expire_held(run_id)
        out["register"] = build_register(run_id)
        for cp in ("staging", "register"):
            out[f"validate_{cp}"] = validate(cp, run_id)
        out["build_marts"] = build_marts(run_id)
        out["validate_marts"] = validate("marts", run_id)
        out["publish"] = publish_marts(run_id)
    return out
