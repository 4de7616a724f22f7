"""Great Expectations as the publication gate.

The GX project is file-based under `expectations/gx/` (suites, validation definitions and
checkpoints are versioned JSON written by GX; results and Data Docs under `uncommitted/` are
git-ignored). SUITES below is the authoring source: `ensure_project()` creates whatever is missing
(`ltcreg validate --sync` rewrites it all after a change here). The datasource reads the database
URL from the environment (`${REGISTER_DB_URL}`), so no secret is ever written to a file.

Every expectation carries GX's own `severity`: a failed *critical* expectation blocks publication of
marts and fails the run; a *warning* is recorded and reported. All checks run inside PostgreSQL.
"""
from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from etl.base import db
from etl.models import sqlmodels
from etl.quality.suites import CHECKPOINTS, CRITICAL, SUITES, Check

log = logging.getLogger(__name__)

GX_ROOT = Path(__file__).resolve().parents[2] / "expectations"
DATASOURCE = "register_db"


class GateFailed(RuntimeError):
    """A critical expectation failed: marts are not published. The message names checks and counts only
    (samples are never in it), so it is kept whole however many checks failed."""
    carries_no_values = True


@dataclass
class Outcome:
    checkpoint: str
    suite: str
    check: str
    severity: str
    success: bool
    unexpected_count: int | None
    element_count: int | None = None
    sample: list | None = None
    error: str | None = None
    observed: object = None       # table-level expectations report what they saw, not a count of rows

    def problem(self) -> str:
        if self.error:
            return f"error {self.error}"
        if self.unexpected_count is None and self.observed is not None:
            return f"observed {self.observed}"
        return f"{self.unexpected_count} unexpected"

    def line(self) -> str:
        mark = "ok  " if self.success else ("FAIL" if self.severity == CRITICAL else "warn")
        count = "" if self.success else f" — {self.problem()}"
        return f"[{mark}] {self.suite}.{self.check} ({self.severity}){count}"


_CONTEXTS: dict[str, object] = {}


def _context():
    """The file context, loaded once per process and database (loading it costs seconds)."""
    import warnings

    import great_expectations as gx

    warnings.filterwarnings("ignore", module="great_expectations")  # deprecation chatter, not findings
    url = db.sqlalchemy_url()
    if url not in _CONTEXTS:
        os.environ["REGISTER_DB_URL"] = url
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
        _CONTEXTS[url] = ensure_project(gx.get_context(mode="file", project_root_dir=str(GX_ROOT)))
    return _CONTEXTS[url]


def _expectation(check: Check):
    import great_expectations.expectations as gxe

    # GX's own severity field: the gate reads it and Data Docs show it (one field, no copy in meta)
    return getattr(gxe, check.kind)(**check.kwargs, severity=check.severity, meta={"check": check.name},
                                    description=check.name)


def _severity(cfg) -> str:
    value = getattr(cfg, "severity", None)
    return str(getattr(value, "value", value) or CRITICAL)


def ensure_project(ctx=None, rewrite: bool = False):
    """Create the datasource, assets, suites, validation definitions and checkpoints that are missing."""
    import great_expectations as gx

    ctx = ctx or _context()
    try:
        ds = ctx.data_sources.get(DATASOURCE)
    except (KeyError, ValueError, LookupError):
        ds = ctx.data_sources.add_or_update_sql(name=DATASOURCE, connection_string="${REGISTER_DB_URL}")
    _ensure_build_tables()
    by_checkpoint: dict[str, list] = {c: [] for c in CHECKPOINTS}
    for suite in SUITES:
        asset_name = f"{suite.schema}.{suite.table}"
        try:
            asset = ds.get_asset(asset_name)
        except LookupError:
            asset = ds.add_table_asset(name=asset_name, table_name=suite.table, schema_name=suite.schema)
        try:
            batch_def = asset.get_batch_definition("whole_table")
        except (KeyError, LookupError):
            batch_def = asset.add_batch_definition_whole_table("whole_table")
        gx_suite = _get(ctx.suites, suite.name)
        if gx_suite is None or rewrite:
            expectations = [_expectation(c) for c in suite.checks]
            # keep the ids of unchanged checks, so a rewrite shows only real changes in the versioned files
            known = {e.description: e.id for e in gx_suite.expectations} if gx_suite is not None else {}
            for e in expectations:
                e.id = known.get(e.description, e.id)
            # GX takes Expectation objects only without ids; their configurations keep the ids
            gx_suite = ctx.suites.add_or_update(gx.ExpectationSuite(
                name=suite.name, expectations=[e.configuration for e in expectations],
                id=gx_suite.id if gx_suite is not None else None,
                meta={"schema": suite.schema, "table": suite.table}))
        vd = _get(ctx.validation_definitions, suite.name)
        if vd is None or rewrite:
            vd = ctx.validation_definitions.add_or_update(
                gx.ValidationDefinition(name=suite.name, data=batch_def, suite=gx_suite))
        by_checkpoint[suite.checkpoint].append(vd)
    for name, vds in by_checkpoint.items():
        if _get(ctx.checkpoints, name) is None or rewrite:
            # Data Docs are built once after the whole checkpoint (run_checkpoint), not by an action
            # per validation definition: GX re-renders every stored result each time it builds.
            ctx.checkpoints.add_or_update(gx.Checkpoint(
                name=name, validation_definitions=vds, actions=[],
                result_format={"result_format": "SUMMARY", "partial_unexpected_count": 10}))
    if rewrite:  # suites no longer in SUITES leave the project, once no checkpoint names them
        _prune({suite.name for suite in SUITES})
        for asset in list(ds.assets):
            if asset.name not in {f"{suite.schema}.{suite.table}" for suite in SUITES}:
                ds.delete_asset(asset.name)
    return ctx


def _prune(known: set[str]) -> None:
    folder = GX_ROOT / "gx"
    for kind in ("validation_definitions", "expectations"):
        for path in (folder / kind).glob("*.json"):
            if path.stem not in known:
                path.unlink()


def _ensure_build_tables() -> None:
    """GX needs a table to exist to register it as an asset: marts not built yet get an empty table of
    their own shape in `build` (the pipeline replaces it before the marts checkpoint)."""
    wanted = {s.table for s in SUITES if s.schema == "build"}
    with db.transaction() as conn, conn.cursor() as cur:
        cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'build'")
        if not wanted - {r[0] for r in cur.fetchall()}:
            return
        # two checkpoints may start at once (parallel tasks): one creates, the other waits and sees them
        cur.execute("SELECT pg_advisory_xact_lock(hashtext('ltc_build_tables'))")
        cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'build'")
        missing = wanted - {r[0] for r in cur.fetchall()}
        if missing:
            sqlmodels.apply_views(cur)
            for name in [m for m in sqlmodels.MARTS if m in missing]:  # a mart reading another comes after it
                cur.execute(f"CREATE TABLE build.{name} AS {sqlmodels.mart_sql(name)} WITH NO DATA")


def _get(store, name):
    try:
        return store.get(name)
    except Exception:  # GX raises store-specific "not found" errors
        return None


def run_checkpoint(name: str, run_id: str, ctx=None) -> list[Outcome]:
    """Run one checkpoint, record every result in audit.expectation_result, return the outcomes."""
    from great_expectations.core.run_identifier import RunIdentifier

    ctx = ctx or _context()
    sqlmodels.refresh_configuration()  # the checks read the rules as the files say them now
    result = ctx.checkpoints.get(name).run(run_id=RunIdentifier(run_name=f"{run_id}:{name}"))
    outcomes: list[Outcome] = []
    for vr in result.run_results.values():
        suite = vr.suite_name
        for r in vr.results:
            cfg = r.expectation_config
            meta = cfg.meta or {}
            res = r.result or {}
            sample = res.get("partial_unexpected_list") or res.get("details", {}).get("unexpected_rows")
            errors = [v.get("exception_message") for v in (r.exception_info or {}).values()
                      if isinstance(v, dict) and v.get("raised_exception")]
            if r.exception_info and r.exception_info.get("raised_exception"):
                errors.append(r.exception_info.get("exception_message"))
            outcomes.append(Outcome(
                checkpoint=name, suite=suite, check=meta.get("check", cfg.type), severity=_severity(cfg),
                success=bool(r.success), element_count=res.get("element_count"),
                unexpected_count=res.get("unexpected_count", res.get("observed_value")
                                         if cfg.type == "unexpected_rows_expectation" else None),
                observed=None if cfg.type == "unexpected_rows_expectation" else res.get("observed_value"),
                sample=_jsonable(sample)[:10] if sample else None,
                error=(errors[0] or "expectation raised")[:300].splitlines()[0] if errors else None))
    _record(outcomes, run_id)
    prune_results()
    # render this run's results (and the index) only: a full build re-renders every stored result
    ctx.build_data_docs(resource_identifiers=list(result.run_results))
    return outcomes


KEEP_RESULTS = 10


def prune_results(keep: int = KEEP_RESULTS) -> None:
    """Keep GX's own result store (the Data Docs' input) to the latest runs per suite.

    The full history is in audit.expectation_result and marts.mart_data_quality; without pruning,
    every Data Docs build re-renders every result ever stored and slows down run after run.
    """
    import shutil

    base = GX_ROOT / "gx" / "uncommitted"
    for folder in (base / "validations", base / "data_docs" / "local_site" / "validations"):
        if not folder.is_dir():
            continue
        for suite_dir in folder.iterdir():
            if not suite_dir.is_dir():
                continue
            # <suite>/<run name>/<run time>/…: a run name used again (a re-run, a fixed name) adds run
            # times under it, so the runs counted are the run times
            # another run (tasks run in parallel) may prune the same folders meanwhile: what vanished is skipped
            names = [d for d in suite_dir.iterdir() if d.is_dir()]
            runs = [(m, t) for d in names for t in _listing(d) if (m := _mtime(t)) is not None]
            for _, old in sorted(runs)[:-keep]:
                shutil.rmtree(old, ignore_errors=True)
            for d in names:
                with contextlib.suppress(OSError):  # not empty, or gone already
                    d.rmdir()


def _listing(folder: Path) -> list[Path]:
    try:
        return [t for t in folder.iterdir() if t.is_dir()]
    except FileNotFoundError:
        return []


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return None


def _jsonable(sample) -> list:
    import json

    out = []
    for item in sample:
        try:
            json.dumps(item)
            out.append(item)
        except TypeError:
            out.append(str(item))
    return out


def _record(outcomes: list[Outcome], run_id: str) -> None:
    import json

    with db.transaction() as conn, conn.cursor() as cur:
        db.copy_rows(cur, "audit.expectation_result",
                     ["run_id", "checkpoint", "suite", "expectation", "severity", "success", "unexpected_count",
                      "element_count", "sample_keys"],
                     ((run_id, o.checkpoint, o.suite, o.check, o.severity, o.success,
                       o.unexpected_count if isinstance(o.unexpected_count, int) else None, o.element_count,
                       json.dumps(o.sample, ensure_ascii=False, default=str) if o.sample else None)
                      for o in outcomes))


def gate(outcomes: list[Outcome]) -> None:
    """Raise GateFailed naming every failed critical expectation and its count."""
    failed = [o for o in outcomes if not o.success and o.severity == CRITICAL]
    if failed:
        lines = "; ".join(f"{o.suite}.{o.check}: {o.problem()}" for o in failed)
        raise GateFailed(f"{len(failed)} critical expectation(s) failed, marts not published — {lines}")


def data_docs_index() -> Path:
    return GX_ROOT / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"
