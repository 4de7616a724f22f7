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

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from etl import db

log = logging.getLogger(__name__)

GX_ROOT = Path(__file__).resolve().parents[1] / "expectations"
DATASOURCE = "register_db"
CRITICAL, WARNING = "critical", "warning"


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
    Suite("staging_optima_supplement", "staging", "optima_supplement", "staging", [
        Check("care_level_1_2_3", "ExpectColumnValuesToBeInSet", {"column": "care_level", "value_set": [1, 2, 3]}),
        Check("minutes_within_level_cap", "UnexpectedRowsExpectation", rows(
            # the rules table decides the cap in force on the supplement's start date
            "WITH s AS (SELECT * FROM {batch}) SELECT s.supplement_id FROM s WHERE NOT EXISTS (SELECT 1 FROM ref.care_package_rule r "
            "WHERE r.care_level = s.care_level AND s.start_date >= r.valid_from "
            "AND (r.valid_to IS NULL OR s.start_date <= r.valid_to) AND s.minutes_per_week <= r.max_minutes_per_week)")),
    ]),
    Suite("audit_load_batch", "audit", "load_batch", "staging", [
        Check("read_equals_staged_plus_quarantined", "UnexpectedRowsExpectation", rows(
            "WITH b AS (SELECT * FROM {batch}) SELECT b.batch_id FROM b WHERE b.status = 'loaded' AND (b.n_read <> b.n_staged + b.n_quarantined "
            "OR b.n_read <> (SELECT count(*) FROM raw.record r WHERE r.batch_id = b.batch_id) "
            "OR b.n_quarantined <> (SELECT count(*) FROM quarantine.record q WHERE q.batch_id = b.batch_id))")),
    ]),
    Suite("register_person", "register", "person", "register", [
        Check("register_id_present", "ExpectColumnValuesToNotBeNull", {"column": "register_id"}),
        Check("register_id_unique", "ExpectColumnValuesToBeUnique", {"column": "register_id"}),
        Check("one_person_per_valid_snils", "UnexpectedRowsExpectation", rows(
            # sample register ids, never the SNILS itself
            "SELECT min(register_id) AS register_id, count(*) AS persons FROM {batch} WHERE snils IS NOT NULL "
            "GROUP BY snils HAVING count(*) > 1")),
        Check("every_record_linked_once", "UnexpectedRowsExpectation", rows(
            "SELECT r.entity, r.stg_id FROM register.int_person_record r LEFT JOIN register.person_link l "
            "ON l.entity = r.entity AND l.stg_id = r.stg_id WHERE l.person_id IS NULL "
            "AND EXISTS (SELECT 1 FROM {batch} AS b)")),
        Check("no_care_after_death", "UnexpectedRowsExpectation", rows(
            "WITH p AS (SELECT * FROM {batch} AS b) SELECT c.report_id FROM staging.optima_care_report c "
            "JOIN register.int_recipient_person rp USING (recipient_id) "
            "JOIN p ON p.person_id = rp.person_id "
            "WHERE p.death_date IS NOT NULL AND c.month > date_trunc('month', p.death_date) AND c.minutes_delivered > 0")),
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

    def line(self) -> str:
        mark = "ok  " if self.success else ("FAIL" if self.severity == CRITICAL else "warn")
        count = "" if self.success else (f" — error: {self.error}" if self.error
                                         else f" — {self.unexpected_count} unexpected")
        return f"[{mark}] {self.suite}.{self.check} ({self.severity}){count}"


def _context():
    import great_expectations as gx

    os.environ["REGISTER_DB_URL"] = db.sqlalchemy_url()
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    return gx.get_context(mode="file", project_root_dir=str(GX_ROOT))


def _expectation(check: Check):
    import great_expectations.expectations as gxe

    meta = {"severity": check.severity, "check": check.name}
    return getattr(gxe, check.kind)(**check.kwargs, meta=meta, description=check.name)


def ensure_project(ctx=None, rewrite: bool = False):
    """Create the datasource, assets, suites, validation definitions and checkpoints that are missing."""
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction

    ctx = ctx or _context()
    try:
        ds = ctx.data_sources.get(DATASOURCE)
    except (KeyError, ValueError, LookupError):
        ds = ctx.data_sources.add_or_update_sql(name=DATASOURCE, connection_string="${REGISTER_DB_URL}")
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
            gx_suite = ctx.suites.add_or_update(gx.ExpectationSuite(
                name=suite.name, expectations=[_expectation(c) for c in suite.checks],
                meta={"schema": suite.schema, "table": suite.table}))
        vd = _get(ctx.validation_definitions, suite.name)
        if vd is None or rewrite:
            vd = ctx.validation_definitions.add_or_update(
                gx.ValidationDefinition(name=suite.name, data=batch_def, suite=gx_suite))
        by_checkpoint[suite.checkpoint].append(vd)
    for name, vds in by_checkpoint.items():
        if _get(ctx.checkpoints, name) is None or rewrite:
            ctx.checkpoints.add_or_update(gx.Checkpoint(
                name=name, validation_definitions=vds,
                actions=[UpdateDataDocsAction(name="update_data_docs")],
                result_format={"result_format": "SUMMARY", "partial_unexpected_count": 10}))
    return ctx


def _get(store, name):
    try:
        return store.get(name)
    except Exception:  # GX raises store-specific "not found" errors
        return None


def run_checkpoint(name: str, run_id: str, ctx=None) -> list[Outcome]:
    """Run one checkpoint, record every result in audit.expectation_result, return the outcomes."""
    from great_expectations.core.run_identifier import RunIdentifier

    ctx = ensure_project(ctx)
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
                unexpected_count=res.get("unexpected_count", res.get("observed_value") if not r.success else 0),
                sample=_jsonable(sample)[:10] if sample else None,
                error=(errors[0] or "expectation raised")[:300].splitlines()[0] if errors else None))
    _record(outcomes, run_id)
    return outcomes


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
        lines = "; ".join(f"{o.suite}.{o.check}: " + (f"error {o.error}" if o.error else
                                                       f"{o.unexpected_count} unexpected") for o in failed)
        raise GateFailed(f"{len(failed)} critical expectation(s) failed, marts not published — {lines}")


def data_docs_index() -> Path:
    return GX_ROOT / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"
