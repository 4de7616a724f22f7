"""The Great Expectations gate: a clean run publishes; each injected critical violation stops it."""
import pytest

from etl.orchestration import pipeline
from etl import quality
from etl.quality import gx
from tests.conftest import publish_checked, query


def publish_all(run_id="test"):
    publish_checked(run_id)


def test_clean_run_publishes_and_records_results(loaded):
    publish_all()
    assert query("SELECT count(*) FROM marts.mart_recipients_by_level")[0][0] > 0
    rows = query("SELECT count(*), bool_and(success) FILTER (WHERE severity = 'critical') "
                 "FROM audit.expectation_result WHERE run_id = 'test'")
    assert rows[0][0] >= 25 and rows[0][1] is True
    # the generator makes ~3 % of providers under-deliver: reported as a warning, not blocking
    assert query("SELECT success, unexpected_count > 0 FROM audit.expectation_result WHERE run_id = 'test' "
                 "AND expectation = 'delivered_not_below_assigned'") == [(False, True)]
    # the data-quality mart carries this run's results up to its own build (staging and register checks)
    assert query("SELECT count(*) FROM marts.mart_data_quality WHERE run_id = 'test'") == query(
        "SELECT count(*) FROM audit.expectation_result WHERE run_id = 'test' AND checkpoint IN ('staging', 'register')")
    assert quality.data_docs_index().exists()
    html = quality.data_docs_index().read_text(encoding="utf-8")
    for suite in ("staging_person_records", "register_person", "mart_recipients_by_level"):
        assert suite in html


@pytest.mark.parametrize("violation,checkpoint,expectation,count", [
    ("UPDATE staging.optima_supplement SET minutes_per_week = 5000 WHERE stg_id IN "
     "(SELECT stg_id FROM staging.optima_supplement ORDER BY stg_id LIMIT 3)",
     "staging", "minutes_within_level_cap", 3),
    ("UPDATE staging.health_referral SET referral_date = current_date + 30 WHERE stg_id IN "
     "(SELECT stg_id FROM staging.health_referral ORDER BY stg_id LIMIT 2)",
     "staging", "no_dates_in_future", 2),
    ("UPDATE audit.load_batch SET n_staged = n_staged + 1 WHERE batch_id = (SELECT min(batch_id) FROM audit.load_batch)",
     "staging", "read_equals_staged_plus_quarantined", 1),
    ("INSERT INTO raw.record (batch_id, locator, source, entity, file_name, content_hash, payload) "
     "VALUES (424242, '1', 'health', 'health_referral', 'orphan.csv', 'x', '{}')",
     "staging", "landed_rows_belong_to_a_loaded_batch", 1),
    ("DELETE FROM raw.content_key WHERE ctid IN (SELECT ctid FROM raw.content_key WHERE batch_id = "
     "(SELECT min(batch_id) FROM raw.content_key) LIMIT 2)", "staging", "every_raw_record_has_its_content_key", 1),
    ("DELETE FROM register.person_link WHERE stg_id IN (SELECT stg_id FROM register.person_link "
     "WHERE entity = 'health_referral' ORDER BY stg_id LIMIT 4) AND entity = 'health_referral'",
     "register", "every_record_linked_once", 4),
    ("UPDATE register.person SET snils = (SELECT snils FROM register.person WHERE snils IS NOT NULL ORDER BY person_id "
     "LIMIT 1) WHERE person_id = (SELECT person_id FROM register.person WHERE snils IS NOT NULL ORDER BY person_id "
     "OFFSET 1 LIMIT 1)", "register", "one_person_per_valid_snils", 1),
    ("UPDATE register.person SET status = 'merged', merged_into = (SELECT min(person_id) FROM register.person) "
     "WHERE person_id = (SELECT max(person_id) FROM register.person)", "register", "links_point_to_active_persons",
     None),
    ("UPDATE register.person SET status = 'merged', merged_into = CASE WHEN person_id = (SELECT min(person_id) FROM "
     "register.person) THEN (SELECT max(person_id) FROM register.person) ELSE (SELECT min(person_id) FROM "
     "register.person) END WHERE person_id IN ((SELECT min(person_id) FROM register.person), (SELECT max(person_id) "
     "FROM register.person))", "register", "redirects_end_at_active_persons", 2),
    ("UPDATE staging.health_referral SET snils = '11223344596' WHERE stg_id = (SELECT min(stg_id) FROM "
     "staging.health_referral)", "staging", "snils_checksum_valid", 1),
    ("UPDATE staging.smev_application SET birth_date = NULL WHERE stg_id = (SELECT min(stg_id) FROM "
     "staging.smev_application)", "staging", "birth_date_present", 1),
    ("UPDATE staging.optima_assessment SET assessment_date = current_date + 3 WHERE stg_id = (SELECT min(stg_id) "
     "FROM staging.optima_assessment)", "staging", "assessment_not_in_future", 1),
    ("UPDATE staging.health_referral SET channel = 'telepathy' WHERE stg_id = (SELECT min(stg_id) FROM "
     "staging.health_referral)", "staging", "referral_channel_known", 1),
    ("UPDATE staging.health_referral SET consent = false, icd10 = 'I63.9' WHERE stg_id IN (SELECT stg_id FROM "
     "staging.health_referral ORDER BY stg_id LIMIT 2)", "staging", "no_diagnosis_without_consent", 2),
    ("UPDATE staging.health_medical_event SET end_date = start_date - 1 WHERE stg_id = (SELECT min(stg_id) FROM "
     "staging.health_medical_event)", "staging", "event_ends_after_start", 1),
    ("UPDATE staging.health_medical_event SET icd10 = 'I63.9' WHERE stg_id = (SELECT min(stg_id) FROM "
     "staging.health_medical_event)", "staging", "no_event_diagnosis_stored", 1),
    ("UPDATE staging.smev_application SET order_uuid = NULL WHERE stg_id = (SELECT min(stg_id) FROM "
     "staging.smev_application)", "staging", "application_has_order_id", 1),
    ("UPDATE staging.smev_death SET death_date = birth_date - 1 WHERE stg_id = (SELECT min(stg_id) FROM "
     "staging.smev_death)", "staging", "death_after_birth", 1),
    ("UPDATE staging.optima_recipient SET status = 'lost' WHERE stg_id = (SELECT min(stg_id) FROM "
     "staging.optima_recipient)", "staging", "recipient_status_known", 1),
    ("UPDATE staging.optima_care_report SET minutes_delivered = minutes_delivered * 10 WHERE report_id = "
     "(SELECT min(report_id) FROM staging.optima_care_report)",
     "staging", "delivered_not_implausibly_above_assigned", 1),
    ("UPDATE staging.optima_care_report SET supplement_id = 'NO-SUCH' WHERE report_id = "
     "(SELECT min(report_id) FROM staging.optima_care_report)", "staging", "report_for_known_supplement", 1),
    ("INSERT INTO staging.optima_supplement (batch_id, locator, export_id, supplement_id, recipient_id, care_level, "
     "minutes_per_week, start_date, end_date) SELECT batch_id, locator || '#dup', export_id, supplement_id || '-DUP', "
     "recipient_id, care_level, minutes_per_week, start_date, end_date FROM staging.optima_supplement "
     "WHERE supplement_id = (SELECT min(supplement_id) FROM staging.optima_supplement); "
     # landed as a loader would: its raw record and the batch's figures too (else reconciliation stops it first)
     "INSERT INTO raw.record SELECT batch_id, locator || '#dup', source, entity, file_name, content_hash, payload "
     "FROM raw.record WHERE (batch_id, locator) IN (SELECT batch_id, left(locator, -4) FROM staging.optima_supplement "
     "WHERE locator LIKE '%#dup'); INSERT INTO raw.content_key SELECT raw.hash8(content_hash), batch_id, locator "
     "FROM raw.record WHERE locator LIKE '%#dup'; UPDATE audit.load_batch SET n_read = n_read + 1, n_staged = n_staged + 1 "
     "WHERE batch_id IN (SELECT batch_id FROM staging.optima_supplement WHERE locator LIKE '%#dup')",
     "register", "one_active_supplement_per_person", 1),
    # the batch figures are checked against the rows that are there, not against each other
    ("DELETE FROM staging.health_referral WHERE stg_id = (SELECT min(stg_id) FROM staging.health_referral)",
     "staging", "read_equals_staged_plus_quarantined", 1),
    ("DELETE FROM staging.optima_care_report WHERE stg_id IN (SELECT min(stg_id) FROM staging.optima_care_report "
     "UNION SELECT max(stg_id) FROM staging.optima_care_report)", "staging", "read_equals_staged_plus_quarantined", None),
    ("UPDATE register.person SET death_date = '2024-01-15' WHERE person_id IN (SELECT rp.person_id FROM "
     "register.int_recipient_person rp JOIN staging.optima_care_report c USING (recipient_id) "
     "WHERE c.month >= '2024-06-01' LIMIT 1)", "register", "no_care_after_death", None),
])
def test_critical_violation_stops_publication(loaded, violation, checkpoint, expectation, count):
    publish_all("before")
    published = query("SELECT count(*), max(published_at) FROM marts.mart_recipients_by_level")[0]
    query(violation)
    with pytest.raises(quality.GateFailed) as e:
        publish_all("after")
    message = str(e.value)
    assert expectation in message
    if count is not None:
        assert f"{expectation}: {count} unexpected" in message
    # nothing new was published
    assert query("SELECT count(*), max(published_at) FROM marts.mart_recipients_by_level")[0] == published
    failed = query("SELECT expectation FROM audit.expectation_result WHERE run_id = 'after' AND NOT success "
                   "AND severity = 'critical'")
    assert (expectation,) in failed
    assert query("SELECT status FROM audit.pipeline_run WHERE run_id = %s", (f"after/ltc_register/validate_{checkpoint}",)) \
        == [("failed",)]


def test_warning_is_recorded_but_does_not_block(loaded):
    query("UPDATE staging.health_referral SET birth_date = referral_date - interval '10 years' WHERE stg_id = "
          "(SELECT min(stg_id) FROM staging.health_referral)")
    publish_all("warn")
    rows = query("SELECT severity, unexpected_count FROM audit.expectation_result WHERE run_id = 'warn' "
                 "AND expectation = 'birth_date_plausible_age'")
    assert rows == [("warning", 1)]
    assert query("SELECT count(*) FROM marts.mart_recipients_by_level")[0][0] > 0


def test_committed_suites_match_their_authoring_source():
    """The versioned GX files are what runs; they must say what etl/quality/suites.py says (`ltcreg validate --sync`)."""
    import json

    for suite in quality.SUITES:
        data = json.loads((quality.GX_ROOT / "gx" / "expectations" / f"{suite.name}.json").read_text("utf-8"))
        committed = sorted((e["meta"]["check"], e["severity"], e["type"]) for e in data["expectations"])
        assert all("severity" not in e["meta"] for e in data["expectations"])  # one field: GX's own
        authored = sorted((c.name, c.severity, _snake(c.kind)) for c in suite.checks)
        assert committed == authored, suite.name
        for e in data["expectations"]:
            check = next(c for c in suite.checks if c.name == e["meta"]["check"])
            for k, v in check.kwargs.items():
                assert e["kwargs"][k] == v, (suite.name, check.name, k)


def _snake(name: str) -> str:
    import re

    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def test_ltcreg_validate_exit_codes(loaded, capsys):
    from etl import cli

    assert cli.main(["validate"]) == 0
    out = capsys.readouterr().out
    assert "[ok  ] register_person.one_person_per_valid_snils (critical)" in out and "Data Docs:" in out
    query("UPDATE staging.optima_supplement SET minutes_per_week = 9999 WHERE stg_id = "
          "(SELECT min(stg_id) FROM staging.optima_supplement)")
    assert cli.main(["validate", "--checkpoint", "staging"]) == 1
    captured = capsys.readouterr()
    assert "staging_optima_supplement.minutes_within_level_cap: 1 unexpected" in captured.err


@pytest.mark.parametrize("violation,expectation,problem", [
    ("UPDATE build.mart_recipients_by_level SET entered = recipients + 1 WHERE (month, oktmo, care_level) = "
     "(SELECT month, oktmo, care_level FROM build.mart_recipients_by_level ORDER BY 1, 2, 3 LIMIT 1)",
     "mart_counts_consistent", "1 unexpected"),
    ("INSERT INTO build.mart_recipients_by_level SELECT * FROM build.mart_recipients_by_level ORDER BY 1, 2, 3 LIMIT 2",
     "mart_grain_unique", "2 unexpected"),
    ("DELETE FROM build.mart_recipients_by_level", "mart_not_empty", "observed 0"),
    ("UPDATE build.mart_recipients_by_level SET care_level = 5 WHERE (month, oktmo, care_level) = "
     "(SELECT month, oktmo, care_level FROM build.mart_recipients_by_level ORDER BY 1, 2, 3 LIMIT 1)",
     "mart_care_level_1_2_3", "1 unexpected"),
    ("UPDATE build.mart_data_quality SET severity = 'fatal' WHERE ctid = (SELECT min(ctid) FROM build.mart_data_quality)",
     "quality_severity_known", "1 unexpected"),
    ("DELETE FROM build.mart_data_quality", "quality_mart_not_empty", "observed 0"),
])
def test_mart_violation_stops_publication(loaded, violation, expectation, problem):
    publish_all("before")
    published = query("SELECT count(*), max(published_at) FROM marts.mart_recipients_by_level")[0]
    pipeline.build_marts("after")
    query(violation)  # the built mart is wrong: the marts checkpoint must keep it out
    with pytest.raises(quality.GateFailed) as e:
        pipeline.validate("marts", "after")
    assert f"{expectation}: {problem}" in str(e.value)
    assert query("SELECT count(*), max(published_at) FROM marts.mart_recipients_by_level")[0] == published


def test_pruning_counts_run_times_under_a_reused_run_name(tmp_path, monkeypatch):
    """GX stores <suite>/<run name>/<run time>/: a run name used again (re-runs, a fixed name) must not
    let results pile up under it — Data Docs re-render what is stored, and slowed down run after run."""
    import os

    monkeypatch.setattr(gx, "GX_ROOT", tmp_path)
    suite = tmp_path / "gx" / "uncommitted" / "validations" / "suite_a"
    stamps = {("fixed", "t1"): 1, ("fixed", "t2"): 2, ("gone", "t3"): 3, ("fixed", "t4"): 4, ("fixed", "t5"): 5,
              ("other", "t6"): 6}
    for (name, run_time), stamp in stamps.items():
        leaf = suite / name / run_time
        leaf.mkdir(parents=True)
        (leaf / "batch.json").write_text("{}")
        os.utime(leaf, (1_700_000_000 + stamp, 1_700_000_000 + stamp))
    quality.prune_results(keep=3)
    left = sorted(str(p.relative_to(suite)) for p in suite.glob("*/*"))
    assert left == ["fixed/t4", "fixed/t5", "other/t6"]
    assert not (suite / "gone").exists()  # a run name left empty goes too


def test_pruning_skips_what_a_parallel_run_removed_meanwhile(tmp_path, monkeypatch):
    """Tasks run in parallel and prune the same folders: a run folder listed and then gone is skipped,
    not a crash of the checkpoint (a bare-clone run failed so, FileNotFoundError in stat)."""
    monkeypatch.setattr(gx, "GX_ROOT", tmp_path)
    suite = tmp_path / "gx" / "uncommitted" / "validations" / "suite_a"
    (suite / "run" / "t1").mkdir(parents=True)
    listing = gx._listing
    monkeypatch.setattr(gx, "_listing", lambda d: listing(d) + [d / "removed-by-another-run"])
    quality.prune_results(keep=3)
    assert (suite / "run" / "t1").is_dir()


def _first(table: str, key: str) -> str:
    return f"({key}) = (SELECT {key} FROM build.{table} ORDER BY {key} LIMIT 1)"


def test_every_mart_and_worklist_has_a_suite_that_can_fail(loaded):
    """Each mart and worklist is checked before it is published; a violation in each is found (one build,
    every table made wrong at once, each expectation named in the gate's message)."""
    from etl.models import sqlmodels

    from etl.models import catalog

    checked = {s.table for s in quality.SUITES if s.schema == "build"}
    assert set(sqlmodels.MARTS) <= checked and set(catalog.named("worklists")) <= checked
    pipeline.build_marts("all-wrong")
    for table in ("mart_package_execution_provider", "mart_coverage", "mart_rental_points", "mart_care_school"):
        assert query(f"SELECT count(*) FROM build.{table}")[0][0] > 1, table  # the fixture fills them
    violations = [
        f"UPDATE build.mart_package_execution_provider SET under_delivered_recipients = recipients + 1 WHERE "
        f"{_first('mart_package_execution_provider', 'month, provider_id, oktmo')}",
        "INSERT INTO build.mart_package_execution_provider SELECT * FROM build.mart_package_execution_provider "
        "ORDER BY month DESC, provider_id, oktmo LIMIT 1",
        "INSERT INTO build.mart_coverage SELECT * FROM build.mart_coverage ORDER BY year, oktmo LIMIT 1",
        "UPDATE build.mart_coverage SET ltc_persons = 0 WHERE ctid = (SELECT max(ctid) FROM build.mart_coverage)",
        "INSERT INTO build.mart_rental_points SELECT * FROM build.mart_rental_points ORDER BY month, oktmo, point_id LIMIT 1",
        "UPDATE build.mart_rental_points SET requested = -1 WHERE ctid = (SELECT max(ctid) FROM build.mart_rental_points)",
        "INSERT INTO build.mart_care_school SELECT * FROM build.mart_care_school ORDER BY month, oktmo, trainee_kind LIMIT 1",
        "UPDATE build.mart_care_school SET people_trained = trainings + 1 WHERE ctid = "
        "(SELECT max(ctid) FROM build.mart_care_school)",
        "INSERT INTO build.worklist_under_delivery (person_key, provider_id, assigned_minutes, delivered_minutes) "
        "VALUES ('k-test', 'p-test', 10, 20), ('k-test', 'p-test', 10, 20)",
        "INSERT INTO build.worklist_reassessment_due (person_key, reason) VALUES ('k-test', NULL), ('k-test', NULL)",
        # a municipality's row of the first month twice; the region's fact off by one in the last month
        "INSERT INTO build.mart_plan_fact SELECT * FROM build.mart_plan_fact WHERE oktmo IS NOT NULL AND fact > 0 "
        "ORDER BY month, oktmo, indicator LIMIT 1",
        "UPDATE build.mart_plan_fact SET fact = fact + 1 WHERE oktmo IS NULL AND indicator = 'recipients_level_3' "
        "AND month = (SELECT max(month) FROM build.mart_plan_fact)",
        "UPDATE build.mart_kpi SET numerator = numerator + 1 WHERE oktmo IS NULL AND period_kind = 'year' "
        "AND code = 'hospitalisation_rate' AND period_end = (SELECT min(period_end) FROM build.mart_kpi WHERE period_kind = 'year')",
    ]
    screens = [n for n in catalog.named("worklists")
               if n not in ("worklist_under_delivery", "worklist_reassessment_due")]
    assert len(screens) == 7
    violations += [f"INSERT INTO build.{n} (item_key, person_key) VALUES ('k-test', 'k-test'), ('k-test', 'k-test')"
                   for n in screens]  # an item twice
    for statement in violations:
        query(statement)
    with pytest.raises(quality.GateFailed) as e:
        pipeline.validate("marts", "all-wrong")
    message = str(e.value)
    for expectation, problem in [
            ("provider_counts_consistent", "1 unexpected"), ("provider_grain_unique", "1 unexpected"),
            ("provider_totals_equal_recipient_mart", "1 unexpected"), ("coverage_grain_unique", "1 unexpected"),
            ("coverage_persons_positive", "1 unexpected"), ("rental_grain_unique", "1 unexpected"),
            ("rental_counts_not_negative", "1 unexpected"), ("school_grain_unique", "1 unexpected"),
            ("school_counts_consistent", "1 unexpected"),
            ("under_delivery_one_row_per_recipient_provider", "1 unexpected"),
            ("under_delivery_is_under", "2 unexpected"), ("reassessment_one_row_per_recipient", "1 unexpected"),
            ("reassessment_reason_present", "2 unexpected"), ("kpi_region_sums_municipalities", "1 unexpected"),
            ("plan_fact_grain_unique", "1 unexpected"), ("plan_fact_region_sums_municipalities", "2 unexpected"),
            ("assessment_overdue_one_row_per_item", "1 unexpected"),
            ("recognised_without_package_one_row_per_item", "1 unexpected"),
            ("dead_receiving_one_row_per_item", "1 unexpected"), ("hospitalised_now_one_row_per_item", "1 unexpected"),
            ("no_care_report_one_row_per_item", "1 unexpected"),
            ("supplement_expiring_one_row_per_item", "1 unexpected"),
            ("priority_waiting_one_row_per_item", "1 unexpected")]:
        assert f"{expectation}: {problem}" in message, (expectation, message)


def test_the_grain_and_sum_checks_of_the_marts_are_seen_failing(loaded):
    """The marts' critical checks no other test violates, each made to fail in one build."""
    pipeline.build_marts("grains")
    for statement in [
        "INSERT INTO build.mart_identification_funnel SELECT * FROM build.mart_identification_funnel "
        "ORDER BY month, oktmo, channel LIMIT 1",
        "UPDATE build.mart_identification_funnel SET assessed = identified + 1 WHERE ctid = "
        "(SELECT max(ctid) FROM build.mart_identification_funnel)",
        "INSERT INTO build.mart_package_execution_recipient SELECT * FROM build.mart_package_execution_recipient "
        "WHERE delivered_minutes > 0 ORDER BY month, person_key LIMIT 1",
        "UPDATE build.mart_package_execution_recipient SET assigned_minutes = -5 WHERE ctid = "
        "(SELECT max(ctid) FROM build.mart_package_execution_recipient)",
        "INSERT INTO build.mart_kpi SELECT * FROM build.mart_kpi ORDER BY period_kind, period_end, code LIMIT 1",
    ]:
        query(statement)
    with pytest.raises(quality.GateFailed) as e:
        pipeline.validate("marts", "grains")
    message = str(e.value)
    for expectation, problem in [("funnel_grain_unique", "1 unexpected"), ("funnel_stages_do_not_grow", "1 unexpected"),
                                 ("execution_grain_unique", "1 unexpected"),
                                 ("execution_minutes_not_negative", "1 unexpected"),
                                 # the copied row's delivered minutes are counted twice
                                 ("delivered_equals_current_reports", "1 unexpected"),
                                 ("kpi_grain_unique", "1 unexpected")]:
        assert f"{expectation}: {problem}" in message, (expectation, message)


def test_every_critical_check_has_a_test_that_violates_it():
    """A new critical check comes with its injected violation. The current layer's key checks are a
    property of the generated views (one current version per key) that no staging change can break;
    register IDs (NOT NULL UNIQUE) and care levels (CHECK IN (1, 2, 3)) are constraints of the schema as
    well, which refuse the violation itself: those checks stand guard should a migration loosen them."""
    from pathlib import Path

    text = "".join(p.read_text(encoding="utf-8") for p in Path(__file__).parent.glob("test_*.py"))
    exempt = {"register_id_present", "register_id_unique", "care_level_1_2_3", "assessment_care_level_1_2_3"}
    missing = [f"{s.name}.{c.name}" for s in quality.SUITES for c in s.checks
               if c.severity == quality.CRITICAL and f'"{c.name}"' not in text and c.name not in exempt
               and not c.name.endswith("_key_current_once")]
    assert not missing, missing
