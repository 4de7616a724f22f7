"""`ltcreg` — command line of the long-term care register."""
from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import sys
import uuid
from pathlib import Path

import connectors
from etl.base import settings


def _run_id(prefix: str) -> str:
    return f"{prefix}__{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%S}_{uuid.uuid4().hex[:6]}"


def cmd_generate(a) -> int:
    from etl.devtools.generate import generate

    counts = generate(Path(a.out), persons=a.persons, seed=a.seed,
                      as_of=dt.date.fromisoformat(a.as_of) if a.as_of else None)
    for k, v in counts.items():
        print(f"{k:24} {v}")
    return 0


def cmd_migrate(a) -> int:
    from etl.base import db

    db.upgrade(revision=a.revision)
    print("schema at", a.revision)
    return 0


def cmd_ingest(a) -> int:
    from etl.base import db
    from etl.landing import load

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
    from connectors.smev.transport import AdapterClient, poll
    from etl.base import db
    from etl.landing import load
    from etl.orchestration import pipeline

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


def cmd_optima_pull(a) -> int:
    from connectors.optima.api import ExportError
    from etl.orchestration import pipeline

    try:
        out = pipeline.pull_optima(a.url, _run_id("optima-pull"), token=a.token or settings.current().optima_token,
                                   landing=Path(a.landing) if a.landing else None)
    except (ExportError, OSError) as e:
        print(f"OPTIMA export API error (watermarks unchanged): {e}", file=sys.stderr)
        return 2
    print(f"{out['status']}: " + ", ".join(f"{t} {n}" for t, n in out["rows"].items()))
    if out["bundle"]:
        print(f"bundle {out['bundle']}")
    return 0


def cmd_register(a) -> int:
    from etl.base import db
    from etl.orchestration import pipeline
    from etl import register

    db.upgrade()
    action = a.action or "build"
    try:
        if action in ("build", "rebuild"):
            counts = pipeline.build_register(_run_id("cli"), rebuild=action == "rebuild")
            print(", ".join(f"{k} {v}" for k, v in counts.items() if not k.startswith("t_")))
        elif action == "merge":
            _need(a.ids, 2, "register merge RG_A RG_B")
            print(register.merge(a.ids[0], a.ids[1], a.actor, a.comment))
        elif action == "unmerge":
            _need(a.ids, 1, "register unmerge RG_MERGED")
            print(register.unmerge(a.ids[0], a.actor, a.comment))
        elif action == "show":
            _need(a.ids, 1, "register show RG_ID")
            _show_person(a.ids[0])
        elif action == "expire":
            counts = pipeline.expire_held(_run_id("cli"), dry_run=a.dry_run)
            verb = "would remove" if a.dry_run else "removed"
            for entity, c in counts.items():
                print(f"{entity}: {verb} {c['staged']} held and {c['quarantined']} quarantined records older than "
                      f"{c['retention_days']} days")
        elif action == "train":
            print(register.train_model(_run_id("cli")))
        elif action == "export":
            _need(a.ids, 1, "register export FILE.csv")
            print(f"{register.export_csv(Path(a.ids[0]))} links written to {a.ids[0]}")
    except (LookupError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


def _need(ids, n, usage):
    if len(ids) != n:
        raise ValueError(f"usage: ltcreg {usage}")


def _show_person(rid: str) -> None:
    from etl.base import db
    from etl import register

    with db.transaction() as conn, conn.cursor() as cur:
        person, status = register.resolve(cur, rid)
        if status == "merged":
            print(f"{rid} was merged into {register.register_id(person)} (redirect)")
        cur.execute("SELECT register_id, surname, first_name, patronymic, sex, birth_date, oktmo, death_date"
                    " FROM register.person WHERE person_id = %s", (person,))
        print("person:", " | ".join("" if v is None else str(v) for v in cur.fetchone()))
        cur.execute("SELECT entity, stg_id, rule, round(match_weight::numeric, 2) FROM register.person_link"
                    " WHERE person_id = %s ORDER BY entity, stg_id", (person,))
        for row in cur.fetchall():
            print("  record", *row)
        cur.execute("SELECT at, action, entity, stg_id, from_person_id, actor, reason FROM register.link_history"
                    " WHERE person_id = %s OR from_person_id = %s ORDER BY history_id", (person, person))
        for row in cur.fetchall():
            print("  history", *("" if v is None else v for v in row))


def cmd_review(a) -> int:
    import json

    from etl.base import db
    from etl import register

    db.upgrade()
    try:
        if a.action == "list":
            items = register.review_items(a.status, a.limit)
            print(f"{'id':>6} {'weight':>7} {'reason':28} {'left':12} {'right':12} status")
            for it in items:
                w = "" if it["match_weight"] is None else f"{it['match_weight']:.2f}"
                print(f"{it['review_id']:>6} {w:>7} {it['reason'][:28]:28} {it['register_id_l'] or '':12} "
                      f"{it['register_id_r'] or '':12} {it['status']}{'/' + it['decision'] if it['decision'] else ''}")
            return 0
        if a.id is None:
            raise ValueError(f"usage: ltcreg review {a.action} ID")
        if a.action == "show":
            item = register.review_item(a.id)
            print(f"review {item['review_id']}: {item['reason']}, weight {item['match_weight']}, {item['status']}")
            fields = ["register_id", "entity", "natural_id", "snils", "surname", "first_name", "patronymic", "sex",
                      "birth_date", "address", "oktmo"]
            for f in fields:
                print(f"  {f:12} {str(item['left'].get(f) or ''):40} {str(item['right'].get(f) or '')}")
            if item["explanation"]:
                print("  contributions:", json.dumps(item["explanation"], ensure_ascii=False))
            return 0
        if a.action == "decide":
            if a.decision is None:
                raise ValueError("usage: ltcreg review decide ID --match|--no-match [--comment TEXT]")
            print(register.decide(a.id, a.decision, a.actor, a.comment))
            return 0
    except (LookupError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 2


def cmd_dedup(a) -> int:
    from etl.linkage import dedup_csv

    try:
        result = dedup_csv(Path(a.input), Path(a.output), model_path=Path(a.model) if a.model else None,
                           explain_path=Path(a.explain) if a.explain else None,
                           save_model=Path(a.save_model) if a.save_model else None, threads=a.threads,
                           existing=Path(a.existing) if a.existing else None)
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    c = result.counts
    held = c.get("review_held", {})
    print(f"{c['records']} records → {c['clusters']} persons; {c['links']} links, {c['review']} pairs for review "
          f"(held instead of a link: {held.get('ambiguous', 0)} fitting two persons, {held.get('namesake', 0)} "
          f"possible namesakes), {c['refused']} refused by guards; written to {a.output}")
    m_by = set(result.model.meta.get("m_estimated_by", {}).values())
    print("model:", "trained here" if a.model is None else f"from {a.model}",
          f"(m by {', '.join(sorted(m_by))})" if m_by else "")
    print("timings (s):", ", ".join(f"{k} {v}" for k, v in result.timings.items()))
    return 0


def cmd_validate(a) -> int:
    from etl.base import db
    from etl import quality
    from etl.models import sqlmodels

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
                sqlmodels.build_all(cur)
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
    from etl.orchestration import pipeline
    from etl import quality

    try:
        out = pipeline.run_all(a.landing, _run_id("cli"))
    except quality.GateFailed as e:
        print(str(e), file=sys.stderr)
        return 1
    for step, summary in out.items():
        print(f"{step:18} {summary}")
    return 0


def cmd_evaluate(a) -> int:
    from etl.devtools.evaluate import evaluate

    for k, v in evaluate(Path(a.truth)).items():
        print(f"{k:40} {v:.4f}" if isinstance(v, float) else f"{k:40} {v}")
    return 0


def cmd_report(a) -> int:
    from etl.base import db
    from etl.reporting import report

    db.upgrade()
    try:
        month = dt.date.fromisoformat(a.month + "-01") if a.month else report.previous_month(dt.date.today())
    except ValueError:
        print(f"error: --month is YYYY-MM, got {a.month!r}", file=sys.stderr)
        return 2
    out = report.monthly(month, Path(a.out) if a.out else None)
    print(f"XLSX: {out['xlsx']}\nHTML: {out['html']}")
    for title, n in out["rows"].items():
        print(f"  {title:24} {n} rows")
    return 0


def cmd_export(a) -> int:
    """`ltcreg export egisso`: read the answers to packages sent, then write (and send) what changed;
    `ltcreg export answer PACKAGE_ID FILE`: reconcile a package with an answer received as a file."""
    from etl.base import db
    from etl.export import egisso

    db.upgrade()
    if a.target == "answer":
        if len(a.args) != 2:
            print("error: export answer PACKAGE_ID FILE", file=sys.stderr)
            return 2
        from connectors.common import FileRejected

        try:
            done = egisso.apply_answer(a.args[0], Path(a.args[1]).read_bytes())
        except (ValueError, OSError, FileRejected) as e:
            print(f"error: {a.args[1]}: not an answer to package {a.args[0]}: {e}", file=sys.stderr)
            return 2
        _print_answers([done])
        return 0
    since = None
    if a.since:
        try:
            since = dt.datetime.fromisoformat(a.since)
        except ValueError:
            print(f"error: --since is an ISO date or date and time, got {a.since!r}", file=sys.stderr)
            return 2
        since = since if since.tzinfo else since.replace(tzinfo=dt.timezone(dt.timedelta(hours=3)))
    try:
        client = egisso.adapter(a.adapter_url, a.it_system)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if client is not None:
        _print_answers(egisso.collect_answers(client))
    out = Path(a.out) if a.out else (settings.current().var_dir or Path("var")) / "export" / "egisso"
    res = egisso.export(out, f"cli-{dt.datetime.now():%Y%m%dT%H%M%S}", since=since,
                        send=egisso.sender(client) if client is not None else None)
    print(f"ЕГИССО 10.42.I: {res.sent} recipients in {len(res.packages)} package(s), {res.withdrawn} withdrawn, "
          f"{res.unchanged} unchanged, {len(res.held)} held back")
    for p in res.packages:
        print(f"  {p['folder']}: {p['records']} recipients{', sent' if p.get('client_id') else ''}")
    for key, messages in res.held:
        print(f"  held back {key}: {messages[0]}" + (f" (+{len(messages) - 1} more)" if len(messages) > 1 else ""))
    return 1 if res.held else 0


def cmd_serve(a) -> int:
    from urllib.parse import urlsplit, urlunsplit

    from etl.base import db
    from etl.web import serve

    if a.database:  # another database of the same server (the embedded one is started when it is not running)
        os.environ["DATABASE_URL"] = urlunsplit(urlsplit(db.database_url())._replace(path="/" + a.database))
    db.upgrade()
    print(f"Регистр СДУ: экраны на http://{a.host}:{a.port}/ (учётные записи: ltcreg access grant-tkc | grant-rkc "
          "ИМЯ --password …)", flush=True)
    serve(a.host, a.port)
    return 0


def _print_answers(done) -> None:
    for r in done:
        print(f"answer to {r.package_id}: {r.status}, {r.accepted} accepted, {len(r.rejected)} refused")
        for key, reasons in r.rejected.items():
            print(f"  refused {key}: {'; '.join(reasons)}")


def cmd_access(a) -> int:
    from etl.models import access
    from etl.base import db

    db.upgrade()
    try:
        if a.action in ("grant-tkc", "revoke-tkc"):
            if not a.oktmo:
                raise ValueError(f"{a.action} needs --oktmo (once per municipality)")
            if a.action == "grant-tkc":
                access.grant_tkc(a.role, a.oktmo, worklists=a.worklists, password=a.password)
            else:
                access.revoke_tkc(a.role, a.oktmo)
            print(f"{a.role}: {a.action} done; municipalities: {', '.join(access.municipalities_of(a.role)) or 'none'}")
            return 0
        access.grant_rkc(a.role, worklists=a.worklists, password=a.password)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{a.role}: {a.action} done")
    return 0


def cmd_period(a) -> int:
    import json

    from etl.base import db
    from etl.models import periods

    db.upgrade()
    try:
        month = periods.parse_month(a.month) if a.month else None
        if a.action == "close":
            if month is None:
                raise ValueError("usage: ltcreg period close YYYY-MM [--note TEXT]")
            out = periods.close(month, a.actor, a.note)
            print({"closed": f"{a.month} closed: revision 1 frozen",
                   "revision accepted": f"{a.month}: revision {out['revision']} accepted and published",
                   "unchanged": f"{a.month}: nothing changed since revision {out['revision']}"}[out["action"]])
            return 0
        for p in periods.status(month):
            print(f"{p['month']:%Y-%m}  revision {p['revision']}  closed {p['closed_at']:%Y-%m-%d %H:%M} by "
                  f"{p['closed_by']}" + (f"  — revision {p['pending_revision']} pending" if p["pending_revision"]
                                          else ""))
            if a.action == "show" and p["pending_revision"]:
                print("  batches since closed:", ", ".join(map(str, p["pending_batches"])) or "none")
                for mart, change in p["pending_changes"].items():
                    print(f"  {mart}: {json.dumps(change, ensure_ascii=False)}")
        return 0
    except (LookupError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def cmd_demo(a) -> int:
    from etl.devtools import demo

    return demo.run(persons=a.persons, seed=a.seed, out=Path(a.out) if a.out else None,
                    keep_airflow=a.keep_airflow)


def cmd_settings(a) -> int:
    """Every setting read from the environment, as this process sees it (secrets: set or not)."""
    try:
        print("\n".join(settings.current().lines()))
    except ValueError as e:
        print(f"ltcreg: {e}", file=sys.stderr)
        return 2
    return 0


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
    i.add_argument("source", choices=[s.name for s in connectors.SOURCES])
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

    op = sub.add_parser("optima-pull", help="pull the OPTIMA export API since the last watermark and land it")
    op.add_argument("--url", required=True, help="base URL of the export API")
    op.add_argument("--token", help="bearer token (default: LTC_OPTIMA_TOKEN)")
    op.add_argument("--landing", help="folder for the pulled bundles (default var/landing/optima)")
    op.set_defaults(func=cmd_optima_pull)

    r = sub.add_parser("register", help="link staged records into the register; merges, unmerges, model")
    r.add_argument("action", nargs="?", choices=["build", "rebuild", "merge", "unmerge", "show", "train", "export",
                                                 "expire"],
                   help="build (default): link new records; rebuild: from scratch, decisions kept; "
                        "merge RG_A RG_B; unmerge RG_MERGED; show RG_ID; train: retrain the model on the register; "
                        "export FILE.csv; expire: remove ОМС/ЗАГС/ФРИ records that matched no person within their "
                        "retention period (sql/seeds/person_source.csv)")
    r.add_argument("--dry-run", action="store_true", help="expire: count, remove nothing")
    r.add_argument("ids", nargs="*")
    r.add_argument("--actor", default=os.environ.get("USER", "operator"))
    r.add_argument("--comment")
    r.set_defaults(func=cmd_register)

    rv = sub.add_parser("review", help="pairs waiting for a person's decision")
    rv.add_argument("action", choices=["list", "show", "decide"])
    rv.add_argument("id", nargs="?", type=int)
    rv.add_argument("--status", default="open", choices=["open", "decided", "obsolete", "all"])
    rv.add_argument("--limit", type=int, default=50)
    dm = rv.add_mutually_exclusive_group()
    dm.add_argument("--match", dest="decision", action="store_const", const="match")
    dm.add_argument("--no-match", dest="decision", action="store_const", const="no_match")
    rv.add_argument("--comment")
    rv.add_argument("--actor", default=os.environ.get("USER", "operator"))
    rv.set_defaults(func=cmd_review)

    dd = sub.add_parser("dedup", help="deduplicate a CSV of person records (no database): record_id → register_id")
    dd.add_argument("input", help="CSV, UTF-8: record_id, source, snils, surname, first_name, patronymic, sex, "
                                  "birth_date, address, municipality")
    dd.add_argument("-o", "--output", required=True)
    dd.add_argument("--model", help="a trained model JSON (default: train on the input)")
    dd.add_argument("--save-model", help="write the model used to this JSON")
    dd.add_argument("--explain", help="write every decided pair with its per-field contributions to this CSV")
    dd.add_argument("--existing", help="an earlier output: its records keep their register ids; only the others "
                                       "are linked (an increment)")
    dd.add_argument("--threads", type=int)
    dd.set_defaults(func=cmd_dedup)

    v = sub.add_parser("validate", help="run the Great Expectations checkpoints; non-zero on a critical failure")
    v.add_argument("--checkpoint", action="append", choices=["staging", "register", "marts"])
    v.add_argument("--sync", action="store_true", help="rewrite the GX suites from etl/quality/suites.py first")
    v.set_defaults(func=cmd_validate)

    rn = sub.add_parser("run", help="the whole pipeline without Airflow, on a landing folder")
    rn.add_argument("--landing", help="folder with a subfolder per source: "
                    + ", ".join(f"{s.name}/" for s in connectors.SOURCES) + " (default var/landing)")
    rn.set_defaults(func=cmd_run)

    e = sub.add_parser("evaluate", help="pairwise precision / recall / F1 of the register against truth.csv")
    e.add_argument("--truth", required=True)
    e.set_defaults(func=cmd_evaluate)

    rp = sub.add_parser("report", help="the monthly monitoring report (XLSX + HTML) from the published marts")
    rp.add_argument("kind", choices=["monthly"])
    rp.add_argument("--month", help="YYYY-MM (default: the previous month)")
    rp.add_argument("--out", help="folder (default LTC_REPORTS_DIR or var/reports)")
    rp.set_defaults(func=cmd_report)

    ex = sub.add_parser("export", help="the register's data to ЕГИССО (10.42.I), validated against its XSD")
    ex.add_argument("target", choices=["egisso", "answer"],
                    help="egisso: write (and send) what changed; answer PACKAGE_ID FILE: reconcile an answer")
    ex.add_argument("args", nargs="*", help="for answer: the package id and the answer's file")
    ex.add_argument("--since", help="re-send what ЕГИССО accepted at or after this ISO date/time")
    ex.add_argument("--out", help="folder of the packages (default var/export/egisso)")
    ex.add_argument("--adapter-url", help="the SMEV adapter (default LTC_EGISSO_ADAPTER_URL; unset: files only)")
    ex.add_argument("--it-system", help="the register's IT system code at the adapter (LTC_EGISSO_IT_SYSTEM)")
    ex.set_defaults(func=cmd_export)

    sv = sub.add_parser("serve", help="the screens: worklists, review queue, person card, dashboards (web)")
    sv.add_argument("--host", default="127.0.0.1")
    sv.add_argument("--port", type=int, default=8088)
    sv.add_argument("--database", help="a database of the configured (or embedded) server by name, e.g. a demo's")
    sv.set_defaults(func=cmd_serve)

    pe = sub.add_parser("period", help="reporting months: close one (freeze its figures), list, show revisions")
    pe.add_argument("action", choices=["close", "list", "show"])
    pe.add_argument("month", nargs="?", help="YYYY-MM")
    pe.add_argument("--note")
    pe.add_argument("--actor", default=os.environ.get("USER", "operator"))
    pe.set_defaults(func=cmd_period)

    ac = sub.add_parser("access", help="database roles of the readers of the marts")
    ac.add_argument("action", choices=["grant-tkc", "revoke-tkc", "grant-rkc"])
    ac.add_argument("role", help="login role name")
    ac.add_argument("--oktmo", action="append",
                    help="a municipality a ТКЦ role sees (repeat for several; granted ones add up)")
    ac.add_argument("--worklists", action="store_true", help="also the worklists (identities)")
    ac.add_argument("--password")
    ac.set_defaults(func=cmd_access)

    st = sub.add_parser("settings", help="print every setting read from the environment (secrets hidden)")
    st.set_defaults(func=cmd_settings)

    d = sub.add_parser("demo", help="generate data and run the DAGs through Airflow; print a summary")
    d.add_argument("--persons", type=int, default=2000)
    d.add_argument("--seed", type=int, default=42)
    d.add_argument("--out", help="output folder (default var/demo)")
    d.add_argument("--keep-airflow", action="store_true", help="keep the throwaway AIRFLOW_HOME")
    d.set_defaults(func=cmd_demo)

    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO if a.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return a.func(a)
    except Exception as e:  # a failure the command did not expect: said without the values it quotes
        import traceback

        from etl.base import redact

        redact.scrub(e)
        if a.verbose:
            traceback.print_exception(e)
        print(f"ltcreg {a.command}: failed: {redact.safe_message(e)}", file=sys.stderr)
        if _lost_database(e):
            print("the database could not be reached or the connection was lost; whatever was being written"
                  " was rolled back — run the command again", file=sys.stderr)
        return 3


def _lost_database(e: BaseException) -> bool:
    import psycopg2

    e = getattr(e, "orig", None) or e  # SQLAlchemy's (Alembic's) wrapper of the driver's error
    # a server's own error carries a SQLSTATE; a refused or broken connection does not
    return isinstance(e, psycopg2.InterfaceError) or (isinstance(e, psycopg2.OperationalError) and not e.pgcode)


if __name__ == "__main__":
    sys.exit(main())
