"""`ltcreg` — command line of the long-term care register."""
from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
import uuid
from pathlib import Path


def _run_id(prefix: str) -> str:
    return f"{prefix}__{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%S}_{uuid.uuid4().hex[:6]}"


def cmd_generate(a) -> int:
    from etl.generate import generate

    counts = generate(Path(a.out), persons=a.persons, seed=a.seed,
                      as_of=dt.date.fromisoformat(a.as_of) if a.as_of else None)
    for k, v in counts.items():
        print(f"{k:24} {v}")
    return 0


def cmd_migrate(a) -> int:
    from etl import db

    db.upgrade(revision=a.revision)
    print("schema at", a.revision)
    return 0


def cmd_ingest(a) -> int:
    from etl import db, load

    db.upgrade()
    results = load.ingest(a.source, [Path(p) for p in a.paths], run_id=_run_id("cli"))
    print(f"{'file':48} {'status':9} {'read':>8} {'staged':>8} {'quarant.':>8}  detail")
    for r in results:
        detail = f"{r.reason}: {r.detail}" if r.reason else (r.detail or "")
        print(f"{Path(r.path).name[:48]:48} {r.status:9} {r.read:>8} {r.staged:>8} {r.quarantined:>8}  {detail}")
    if not results:
        print("no files found", file=sys.stderr)
        return 2
    return 1 if any(r.status == "rejected" for r in results) else 0


def cmd_smev_poll(a) -> int:
    from connectors.smev_transport import AdapterClient, poll
    from etl import db, load, pipeline

    db.upgrade()
    landing = Path(a.landing) if a.landing else pipeline.landing_dir("smev")
    run_id = _run_id("smev-poll")
    client = AdapterClient(a.url, a.it_system, timeout=(a.connect_timeout, a.read_timeout))
    try:
        result = poll(client, landing, lambda p: load.ingest_file("smev", p, run_id), max_messages=a.max)
    except Exception as e:  # adapter unreachable or answering garbage: say so, nothing was acknowledged
        print(f"SMEV adapter error: {e}", file=sys.stderr)
        return 2
    print(f"received {result.received}, stored and acknowledged {result.acknowledged}")
    for line in result.failed:
        print("not stored (left in the queue):", line, file=sys.stderr)
    return 1 if result.failed else 0


def cmd_register(a) -> int:
    from etl import pipeline

    counts = pipeline.build_register(_run_id("cli"))
    print(", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0


def cmd_validate(a) -> int:
    from etl import db, quality, sqlmodels

    db.upgrade()
    if a.sync:
        quality.ensure_project(rewrite=True)
    run_id = _run_id("cli")
    with db.transaction() as conn, conn.cursor() as cur:
        sqlmodels.apply_views(cur)
    outcomes = []
    for cp in a.checkpoint or quality.CHECKPOINTS:
        if cp == "marts":  # as in the pipeline: marts are built after the staging and register checks
            with db.transaction() as conn, conn.cursor() as cur:
                for name in sqlmodels.MARTS:
                    sqlmodels.build_mart(cur, name, "build")
        outcomes += quality.run_checkpoint(cp, run_id)
    for o in outcomes:
        print(o.line())
    print(f"Data Docs: {quality.data_docs_index()}")
    try:
        quality.gate(outcomes)
    except quality.GateFailed as e:
        print(str(e), file=sys.stderr)
        return 1
    return 0


def cmd_run(a) -> int:
    from etl import pipeline, quality

    try:
        out = pipeline.run_all(a.landing, _run_id("cli"))
    except quality.GateFailed as e:
        print(str(e), file=sys.stderr)
        return 1
    for step, summary in out.items():
        print(f"{step:18} {summary}")
    return 0


def cmd_evaluate(a) -> int:
    from etl.evaluate import evaluate

    for k, v in evaluate(Path(a.truth)).items():
        print(f"{k:40} {v:.4f}" if isinstance(v, float) else f"{k:40} {v}")
    return 0


def cmd_demo(a) -> int:
    from etl import demo

    return demo.run(persons=a.persons, seed=a.seed, out=Path(a.out) if a.out else None,
                    keep_airflow=a.keep_airflow)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="ltcreg", description="Единый регистр получателей долговременного ухода (СДУ)")
    p.add_argument("-v", "--verbose", action="store_true")
    sub = p.add_subparsers(dest="command", required=True)

    g = sub.add_parser("generate", help="write a synthetic region: every source in its own format + truth.csv")
    g.add_argument("--persons", type=int, default=2000)
    g.add_argument("--seed", type=int, default=42)
    g.add_argument("--as-of", help="reference date, ISO (default 2025-12-31)")
    g.add_argument("--out", required=True)
    g.set_defaults(func=cmd_generate)

    m = sub.add_parser("migrate", help="create or upgrade the database schema (Alembic)")
    m.add_argument("--revision", default="head")
    m.set_defaults(func=cmd_migrate)

    i = sub.add_parser("ingest", help="land source files: raw → staging or quarantine")
    i.add_argument("source", choices=["health", "smev", "optima"])
    i.add_argument("paths", nargs="+", help="files or folders")
    i.set_defaults(func=cmd_ingest)

    sp = sub.add_parser("smev-poll", help="pull messages from an SMEV adapter; acknowledge only what is stored")
    sp.add_argument("--url", required=True, help="adapter endpoint, e.g. http://adapter:7575/ws")
    sp.add_argument("--it-system", required=True, help="the information system's mnemonic in the adapter")
    sp.add_argument("--landing", help="folder for received messages (default var/landing/smev)")
    sp.add_argument("--max", type=int, default=1000)
    sp.add_argument("--connect-timeout", type=float, default=5.0)
    sp.add_argument("--read-timeout", type=float, default=60.0)
    sp.set_defaults(func=cmd_smev_poll)

    r = sub.add_parser("register", help="link staged records into the register")
    r.set_defaults(func=cmd_register)

    v = sub.add_parser("validate", help="run the Great Expectations checkpoints; non-zero on a critical failure")
    v.add_argument("--checkpoint", action="append", choices=["staging", "register", "marts"])
    v.add_argument("--sync", action="store_true", help="rewrite the GX suites from etl/quality.py first")
    v.set_defaults(func=cmd_validate)

    rn = sub.add_parser("run", help="the whole pipeline without Airflow, on a landing folder")
    rn.add_argument("--landing", help="folder with health/, smev/, optima/ (default var/landing)")
    rn.set_defaults(func=cmd_run)

    e = sub.add_parser("evaluate", help="pairwise precision / recall / F1 of the register against truth.csv")
    e.add_argument("--truth", required=True)
    e.set_defaults(func=cmd_evaluate)

    d = sub.add_parser("demo", help="generate data and run the DAGs through Airflow; print a summary")
    d.add_argument("--persons", type=int, default=2000)
    d.add_argument("--seed", type=int, default=42)
    d.add_argument("--out", help="output folder (default var/demo)")
    d.add_argument("--keep-airflow", action="store_true", help="keep the throwaway AIRFLOW_HOME")
    d.set_defaults(func=cmd_demo)

    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO if a.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return a.func(a)


if __name__ == "__main__":
    sys.exit(main())
