"""Great Expectations as the publication gate.

The GX project is file-based under `expectations/gx/` (suites, validation definitions and
checkpoints are versioned JSON written by GX; results and Data Docs under `uncommitted/` are
git-ignored). SUITES below is the authoring source: `ensure_project()` creates whatever is missing
(`ltcreg validate --sync` rewrites it all after a change here). The datasource reads the database
URL from the environment (`${REGISTER_DB_URL}`), so no secret is ever written to a file.

Every expectation carries `meta.severity`: a failed *critical* expectation blocks publication of
marts and fails the run; a *warning* is recorded and reported. All checks run inside PostgreSQL.
"""
from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from etl import db, sqlmodels

log = logging.getLogger(__name__)

GX_ROOT = Path(__file__).resolve().parents[1] / "expectations"
DATASOURCE = "register_db"
CRITICAL, WARNING = "critical", "warning"
CURRENT_ENTITIES = [row["entity"] for row in sqlmodels.natural_keys()]


@dataclass
class Check:
    name: str                     # stable, human-readable; shown in gate messages
    kind: str                     # a GX expectation class name
    kwargs: dict
    severity: str = CRITICAL
    key: str | None = None        # column(s) to sample as unexpected keys (never personal data)


@dataclass
class Suite:
    name: str
    schema: str
    table: str
    checkpoint: str
    checks: list[Check] = field(default_factory=list)


def rows(query: str) -> dict:
    # GX substitutes {batch} with an aliased subquery, except in queries containing JOIN, where the
    # alias is ours to write (PostgreSQL before 16 requires one): hence "{batch} AS b" there.
    return {"unexpected_rows_query": query}


SUITES = [
    Suite("staging_person_records", "register", "int_person_record", "staging", [
        Check("snils_checksum_valid", "UnexpectedRowsExpectation", rows(
            "SELECT entity, stg_id FROM {batch} WHERE snils IS NOT NULL AND NOT ref.snils_is_valid(snils)")),
        Check("birth_date_present", "ExpectColumnValuesToNotBeNull", {"column": "birth_date"}),
        Check("birth_date_plausible_age_18_120", "UnexpectedRowsExpectation", rows(
            "SELECT entity, stg_id FROM {batch} WHERE record_date IS NOT NULL AND "
            "(birth_date > record_date - interval '18 years' OR birth_date < record_date - interval '120 years')"),
            severity=WARNING),
        Check("no_dates_in_future", "UnexpectedRowsExpectation", rows(
            "SELECT entity, stg_id FROM {batch} WHERE birth_date > current_date OR record_date > current_date")),
    ]),
    Suite("staging_health_referral", "staging", "health_referral", "staging", [
        Check("referral_channel_known", "ExpectColumnValuesToBeInSet", {"column": "channel", "value_set": [
            "dispensary", "doctor_visit", "hospital_discharge", "mse", "other"]}),
        # medical secrecy: a diagnosis is stored only with the citizen's written consent
        Check("no_diagnosis_without_consent", "UnexpectedRowsExpectation", rows(
            "SELECT stg_id FROM {batch} WHERE icd10 IS NOT NULL AND NOT consent")),
    ]),
    Suite("staging_health_medical_event", "staging", "health_medical_event", "staging", [
        Check("event_ends_after_start", "UnexpectedRowsExpectation", rows(
            "SELECT event_id FROM {batch} WHERE end_date < start_date")),
    ]),
    Suite("staging_smev_application", "staging", "smev_application", "staging", [
        Check("application_has_order_id", "ExpectColumnValuesToNotBeNull", {"column": "order_uuid"}),
    ]),
    Suite("staging_smev_death", "staging", "smev_death", "staging", [
        Check("death_after_birth", "UnexpectedRowsExpectation", rows(
            "SELECT record_number FROM {batch} WHERE death_date < birth_date")),
    ]),
    Suite("staging_optima_recipient", "staging", "optima_recipient", "staging", [
        Check("recipient_status_known", "ExpectColumnValuesToBeInSet", {"column": "status", "value_set": [
            "identified", "assessed", "not_needing", "receiving", "exited"]}),
        Check("exit_has_reason", "UnexpectedRowsExpectation", rows(
            "SELECT recipient_id FROM {batch} WHERE status = 'exited' AND exit_reason IS NULL"), severity=WARNING),
    ]),
    Suite("staging_optima_supplement", "staging", "optima_supplement", "staging", [
        Check("care_level_1_2_3", "ExpectColumnValuesToBeInSet", {"column": "care_level", "value_set": [1, 2, 3]}),
        Check("minutes_within_level_cap", "UnexpectedRowsExpectation", rows(
            # the rules table decides the cap in force on the supplement's start date
            "WITH s AS (SELECT * FROM {batch}) SELECT s.supplement_id FROM s WHERE NOT EXISTS (SELECT 1 FROM ref.care_package_rule r "
            "WHERE r.care_level = s.care_level AND s.start_date >= r.valid_from "
            "AND (r.valid_to IS NULL OR s.start_date <= r.valid_to) AND s.minutes_per_week <= r.max_minutes_per_week)")),
    ]),
    Suite("staging_optima_assessment", "staging", "optima_assessment", "staging", [
        Check("assessment_care_level_1_2_3", "ExpectColumnValuesToBeInSet",
              {"column": "care_level", "value_set": [1, 2, 3]}),
        Check("typing_group_3_4_5", "ExpectColumnValuesToBeInSet", {"column": "typing_group", "value_set": [3, 4, 5]},
              severity=WARNING),
        Check("assessment_not_in_future", "UnexpectedRowsExpectation", rows(
            "SELECT assessment_id FROM {batch} WHERE assessment_date > current_date")),
    ]),
    Suite("current_layer", "register", "cur_optima_care_report", "staging", [
        # one current version per natural key, in every entity of the current layer
        *[Check(f"{entity}_key_current_once", "UnexpectedRowsExpectation", rows(
            f"SELECT natural_key FROM register.cur_{entity} WHERE EXISTS (SELECT 1 FROM {{batch}}) "
            "GROUP BY natural_key HAVING count(*) > 1")) for entity in CURRENT_ENTITIES],
        Check("report_for_known_supplement", "UnexpectedRowsExpectation", rows(
            "WITH c AS (SELECT * FROM {batch}) SELECT c.report_id FROM c WHERE NOT EXISTS "
            "(SELECT 1 FROM register.cur_optima_supplement s WHERE s.supplement_id = c.supplement_id)")),
        # per supplement and month with a report: delivered against assigned (minutes per week × days in
        # force at home / 7), both from the current versions
        Check("delivered_not_below_assigned", "UnexpectedRowsExpectation", rows(
            "SELECT d.supplement_id, d.month FROM register.int_package_month d "
            "WHERE (d.supplement_id, d.month) IN (SELECT supplement_id, month FROM {batch}) "
            "AND d.delivered_minutes < 0.95 * d.assigned_minutes"), severity=WARNING),
        # against the whole package, hospital days included (care reported on those days is a finding of
        # its own, not an implausible report)
        Check("delivered_not_implausibly_above_assigned", "UnexpectedRowsExpectation", rows(
            "SELECT d.supplement_id, d.month FROM register.int_package_month d "
            "WHERE (d.supplement_id, d.month) IN (SELECT supplement_id, month FROM {batch}) "
            "AND d.delivered_minutes > 1.5 * (d.assigned_minutes + d.hospital_minutes) + 60")),
        Check("no_care_reported_on_hospital_days", "UnexpectedRowsExpectation", rows(
            "SELECT d.supplement_id, d.month FROM register.int_package_month d "
            "WHERE (d.supplement_id, d.month) IN (SELECT supplement_id, month FROM {batch}) "
            "AND d.hospital_days > 0 AND d.delivered_minutes > d.assigned_minutes + 60"), severity=WARNING),
    ]),

    Suite("audit_load_batch", "audit", "load_batch", "staging", [
        Check("read_equals_staged_plus_quarantined", "UnexpectedRowsExpectation", rows(
            "WITH b AS (SELECT * FROM {batch}) SELECT b.batch_id FROM b WHERE b.status = 'loaded' AND (b.n_read <> b.n_staged + b.n_quarantined "
            "OR b.n_read <> (SELECT count(*) FROM raw.record r WHERE r.batch_id = b.batch_id) "
            "OR b.n_quarantined <> (SELECT count(*) FROM quarantine.record q WHERE q.batch_id = b.batch_id))")),
        # landing tables carry no per-row foreign key (bulk-load cost): their batches are checked here
        Check("landed_rows_belong_to_a_loaded_batch", "UnexpectedRowsExpectation", rows(
            "SELECT l.batch_id FROM (SELECT DISTINCT batch_id FROM raw.record UNION "
            "SELECT DISTINCT batch_id FROM quarantine.record) l "
            "WHERE l.batch_id NOT IN (SELECT batch_id FROM {batch} WHERE status = 'loaded')")),
    ]),
    Suite("register_person", "register", "person", "register", [
        Check("register_id_present", "ExpectColumnValuesToNotBeNull", {"column": "register_id"}),
        Check("register_id_unique", "ExpectColumnValuesToBeUnique", {"column": "register_id"}),
        Check("one_person_per_valid_snils", "UnexpectedRowsExpectation", rows(
            # sample register ids, never the SNILS itself
            "SELECT min(register_id) AS register_id, count(*) AS persons FROM {batch} WHERE snils IS NOT NULL "
            "GROUP BY snils HAVING count(*) > 1")),
        Check("links_point_to_active_persons", "UnexpectedRowsExpectation", rows(
            # a merged person is a redirect: its records must have moved to the person it was merged into
            "SELECT l.entity, l.stg_id FROM {batch} AS b JOIN register.person_link l ON l.person_id = b.person_id "
            "WHERE b.status <> 'active'")),
        Check("redirects_end_at_active_persons", "UnexpectedRowsExpectation", rows(
            "SELECT b.register_id FROM {batch} AS b JOIN register.person t ON t.person_id = b.merged_into "
            "WHERE t.status <> 'active'")),
        Check("every_record_linked_once", "UnexpectedRowsExpectation", rows(
            # records landed while the last build ran are the next build's (ingestion runs concurrently)
            "SELECT r.entity, r.stg_id FROM register.int_person_record r LEFT JOIN register.person_link l "
            "ON l.entity = r.entity AND l.stg_id = r.stg_id WHERE l.person_id IS NULL "
            "AND r.batch_id <= (SELECT max_batch_id FROM register.build_run ORDER BY build_id DESC LIMIT 1) "
            "AND EXISTS (SELECT 1 FROM {batch} AS b)")),
        Check("one_active_supplement_per_person", "UnexpectedRowsExpectation", rows(
            "WITH p AS (SELECT * FROM {batch} AS b) SELECT a.supplement_id, b.supplement_id AS overlaps "
            "FROM register.int_supplement a JOIN register.int_supplement b ON a.person_id = b.person_id "
            "AND a.supplement_id < b.supplement_id AND a.start_date <= coalesce(b.end_date, 'infinity') "
            "AND b.start_date <= coalesce(a.end_date, 'infinity') WHERE EXISTS (SELECT 1 FROM p)")),
        Check("assessment_within_365_days", "UnexpectedRowsExpectation", rows(
            # receiving care on the data's own reference date with no assessment in the year before it
            # (latest assessment per recipient first: a correlated NOT EXISTS here is quadratic)
            "WITH p AS (SELECT * FROM {batch} AS b), asof AS (SELECT max(month + interval '1 month - 1 day')::date AS d "
            "FROM register.cur_optima_care_report), last_a AS (SELECT recipient_id, max(assessment_date) AS d "
            "FROM register.cur_optima_assessment GROUP BY recipient_id) SELECT rp.recipient_id "
            "FROM register.int_recipient_person rp JOIN p ON p.person_id = rp.person_id CROSS JOIN asof "
            "LEFT JOIN last_a la ON la.recipient_id = rp.recipient_id WHERE rp.status = 'receiving' "
            "AND p.death_date IS NULL AND (la.d IS NULL OR la.d <= asof.d - 365)"), severity=WARNING),
        Check("no_care_after_death", "UnexpectedRowsExpectation", rows(
            "WITH p AS (SELECT * FROM {batch} AS b) SELECT c.report_id FROM register.cur_optima_care_report c "
            "JOIN register.int_recipient_person rp USING (recipient_id) "
            "JOIN p ON p.person_id = rp.person_id "
            "WHERE p.death_date IS NOT NULL AND c.month > date_trunc('month', p.death_date) AND c.minutes_delivered > 0")),
    ]),
    Suite("mart_data_quality", "build", "mart_data_quality", "marts", [
        Check("quality_mart_not_empty", "ExpectTableRowCountToBeBetween", {"min_value": 1}),
        Check("quality_severity_known", "ExpectColumnValuesToBeInSet",
              {"column": "severity", "value_set": ["critical", "warning"]}),
    ]),
    Suite("mart_recipients_by_level", "build", "mart_recipients_by_level", "marts", [
        Check("mart_not_empty", "ExpectTableRowCountToBeBetween", {"min_value": 1}),
        Check("mart_care_level_1_2_3", "ExpectColumnValuesToBeInSet", {"column": "care_level", "value_set": [1, 2, 3]}),
        Check("mart_counts_consistent", "UnexpectedRowsExpectation", rows(
            "SELECT month, oktmo, care_level FROM {batch} WHERE recipients < 0 OR entered > recipients "
            "OR exited > recipients")),
        Check("mart_grain_unique", "UnexpectedRowsExpectation", rows(
            "SELECT month, oktmo, care_level FROM {batch} GROUP BY month, oktmo, care_level HAVING count(*) > 1")),
    ]),
    Suite("mart_identification_funnel", "build", "mart_identification_funnel", "marts", [
        Check("funnel_grain_unique", "UnexpectedRowsExpectation", rows(
            "SELECT month, oktmo, channel FROM {batch} GROUP BY month, oktmo, channel HAVING count(*) > 1")),
        Check("funnel_stages_do_not_grow", "UnexpectedRowsExpectation", rows(
            # each stage is a subset of the one before: more assessed than identified is a join error
            "SELECT month, oktmo, channel FROM {batch} WHERE assessed > identified "
            "OR recognised_level_1 + recognised_level_2 + recognised_level_3 + not_needing > assessed "
            "OR contracted > identified OR receiving > identified")),
    ]),
    Suite("mart_package_execution_recipient", "build", "mart_package_execution_recipient", "marts", [
        Check("execution_grain_unique", "UnexpectedRowsExpectation", rows(
            "SELECT month, person_key, provider_id FROM {batch} GROUP BY month, person_key, provider_id, oktmo "
            "HAVING count(*) > 1")),
        Check("execution_minutes_not_negative", "UnexpectedRowsExpectation", rows(
            "SELECT month, person_key FROM {batch} WHERE assigned_minutes < 0 OR delivered_minutes < 0")),
        # no sum over versions: what the mart says was delivered is what the current care reports say,
        # for the months their supplements were in force (int_supplement_grid; a model reading every
        # staged version fails it); closed months publish their frozen figures, so they are left out
        Check("delivered_equals_current_reports", "UnexpectedRowsExpectation", rows(
            "WITH m AS (SELECT coalesce(sum(b.delivered_minutes), 0) AS mart FROM {batch} AS b "
            "WHERE b.month NOT IN (SELECT month FROM audit.period)), "
            "c AS (SELECT coalesce(sum(c.minutes_delivered), 0) AS reports FROM register.cur_optima_care_report c "
            "JOIN register.int_supplement_grid g ON g.supplement_id = c.supplement_id AND g.month = c.month "
            "WHERE c.month NOT IN (SELECT month FROM audit.period)) "
            "SELECT m.mart, c.reports FROM m CROSS JOIN c WHERE m.mart <> c.reports")),
    ]),
    Suite("mart_kpi", "build", "mart_kpi", "marts", [
        Check("kpi_grain_unique", "UnexpectedRowsExpectation", rows(
            "SELECT period_kind, period_end, code FROM {batch} GROUP BY period_kind, period_end, code "
            "HAVING count(*) > 1")),
        Check("kpi_parameters_present", "UnexpectedRowsExpectation", rows(
            # an indicator needing a figure from outside our sources has no parameter for its year
            "SELECT period_end, code FROM {batch} WHERE source = 'parameter' AND multiplier IS NULL"),
            severity=WARNING),
    ]),
]
CHECKPOINTS = ["staging", "register", "marts"]


class GateFailed(RuntimeError):
    """A critical expectation failed: marts are not published."""


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

    meta = {"severity": check.severity, "check": check.name}
    return getattr(gxe, check.kind)(**check.kwargs, meta=meta, description=check.name)


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
    from etl import sqlmodels

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
            for name in sorted(missing):
                cur.execute(f"CREATE TABLE build.{name} AS {sqlmodels.sql_text('marts', name)} WITH NO DATA")


def _get(store, name):
    try:
        return store.get(name)
    except Exception:  # GX raises store-specific "not found" errors
        return None


def run_checkpoint(name: str, run_id: str, ctx=None) -> list[Outcome]:
    """Run one checkpoint, record every result in audit.expectation_result, return the outcomes."""
    from great_expectations.core.run_identifier import RunIdentifier

    ctx = ctx or _context()
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
                checkpoint=name, suite=suite, check=meta.get("check", cfg.type), severity=meta.get("severity", CRITICAL),
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
