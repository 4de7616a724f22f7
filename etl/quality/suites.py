"""The checks, as data: every suite of the publication gate, with its table and checkpoint, and every
expectation in it with its severity. The GX project under expectations/ is generated from here
(etl/quality/gx.py); a check lives here and nowhere else."""
from __future__ import annotations

from dataclasses import dataclass, field

import connectors
from etl.models import sqlmodels

CRITICAL, WARNING = "critical", "warning"
CURRENT_ENTITIES = [row["entity"] for row in sqlmodels.natural_keys()]
# the batch of every staged row of every source (connectors.SOURCES: the staging tables they fill)
STAGED_ROWS = " UNION ALL ".join(f"SELECT batch_id FROM staging.{e}" for s in connectors.SOURCES for e in s.entities)


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


def rule(name: str, on: str) -> str:
    """The value of a care-model rule (ref.care_rule, sql/seeds/care_rule.csv) in force on the date `on`
    (SQL): a scalar subquery, NULL where no row covers the date — a row not judged, not a violation."""
    return (f"(SELECT r.value FROM ref.care_rule r WHERE r.rule = '{name}' AND {on} >= r.valid_from"
            f" AND (r.valid_to IS NULL OR {on} <= r.valid_to))")


def region_sums(name: str, grain: tuple[str, ...], measures: tuple[str, ...]) -> Check:
    """A mart's region rows (oktmo NULL) are the sum of its municipalities' rows (the unknown one
    included), measure by measure, for every value of the grain."""
    by = ", ".join(grain)
    differs = " OR ".join(f"coalesce(sum({m}) FILTER (WHERE oktmo IS NULL), 0) "
                          f"<> coalesce(sum({m}) FILTER (WHERE oktmo IS NOT NULL), 0)" for m in measures)
    return Check(name, "UnexpectedRowsExpectation", rows(f"SELECT {by} FROM {{batch}} GROUP BY {by} HAVING {differs}"))


def grain_unique(name: str, *grain: str, shown: tuple[str, ...] | None = None) -> Check:
    """A model's grain holds: no two rows share these columns (the sample shows `shown`, by default the
    grain itself)."""
    return Check(name, "UnexpectedRowsExpectation", rows(
        f"SELECT {', '.join(shown or grain)} FROM {{batch}} GROUP BY {', '.join(grain)} HAVING count(*) > 1"))


SUITES = [
    Suite("staging_person_records", "register", "int_person_record", "staging", [
        Check("snils_checksum_valid", "UnexpectedRowsExpectation", rows(
            "SELECT entity, stg_id FROM {batch} WHERE snils IS NOT NULL AND NOT ref.snils_is_valid(snils)")),
        Check("birth_date_present", "ExpectColumnValuesToNotBeNull", {"column": "birth_date"}),
        # the age window in force on the record's date (person_age_min / person_age_max)
        Check("birth_date_plausible_age", "UnexpectedRowsExpectation", rows(
            "SELECT entity, stg_id FROM {batch} WHERE record_date IS NOT NULL AND "
            f"(birth_date > record_date - {rule('person_age_min', 'record_date')} * interval '1 year' OR "
            f"birth_date < record_date - {rule('person_age_max', 'record_date')} * interval '1 year')"),
            severity=WARNING),
        Check("no_dates_in_future", "UnexpectedRowsExpectation", rows(
            "SELECT entity, stg_id FROM {batch} WHERE birth_date > current_date OR record_date > current_date")),
    ]),
    Suite("staging_health_referral", "staging", "health_referral", "staging", [
        Check("referral_channel_known", "UnexpectedRowsExpectation", rows(
            "SELECT stg_id FROM {batch} WHERE channel IS NOT NULL AND channel NOT IN "
            "(SELECT code FROM ref.identification_channel)")),
        # medical secrecy: a diagnosis is stored only with the citizen's written consent
        Check("no_diagnosis_without_consent", "UnexpectedRowsExpectation", rows(
            "SELECT stg_id FROM {batch} WHERE icd10 IS NOT NULL AND NOT consent")),
    ]),
    Suite("staging_health_medical_event", "staging", "health_medical_event", "staging", [
        Check("event_ends_after_start", "UnexpectedRowsExpectation", rows(
            "SELECT event_id FROM {batch} WHERE end_date < start_date")),
        # medical secrecy: the event sources carry no consent, so no diagnosis is kept from them
        Check("no_event_diagnosis_stored", "UnexpectedRowsExpectation", rows(
            "SELECT stg_id FROM {batch} WHERE icd10 IS NOT NULL")),
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
        # the code lists are rules as data (sql/seeds/priority_category.csv, identification_channel.csv);
        # a card may name several priority categories, separated by ";"
        Check("priority_category_known", "UnexpectedRowsExpectation", rows(
            "SELECT recipient_id FROM {batch} WHERE priority_category IS NOT NULL AND EXISTS (SELECT 1 FROM "
            "unnest(string_to_array(priority_category, ';')) AS p(code) WHERE trim(p.code) <> '' "
            "AND trim(p.code) NOT IN (SELECT code FROM ref.priority_category))"), severity=WARNING),
        Check("identification_channel_known", "UnexpectedRowsExpectation", rows(
            "SELECT recipient_id FROM {batch} WHERE identified_channel IS NOT NULL "
            "AND identified_channel NOT IN (SELECT code FROM ref.identification_channel)"), severity=WARNING),
    ]),
    Suite("staging_optima_supplement", "staging", "optima_supplement", "staging", [
        Check("care_level_1_2_3", "ExpectColumnValuesToBeInSet", {"column": "care_level", "value_set": [1, 2, 3]}),
        Check("minutes_within_level_cap", "UnexpectedRowsExpectation", rows(
            # the rules table (sql/seeds/care_package_rule.csv) decides the cap in force on the
            # supplement's start date, for its current version (a corrected one replaces what it corrects);
            # a date no rule covers is the next check's, not a violation
            # (a query with a JOIN names the batch's alias itself: GX adds it only to the others)
            "WITH s AS (SELECT b.* FROM {batch} AS b JOIN register.cur_optima_supplement c USING (stg_id)) "
            "SELECT s.supplement_id FROM s JOIN ref.care_package_rule r "
            "ON r.care_level = s.care_level AND s.start_date >= r.valid_from "
            "AND (r.valid_to IS NULL OR s.start_date <= r.valid_to) WHERE s.minutes_per_week > r.max_minutes_per_week")),
        Check("level_cap_rule_in_force", "UnexpectedRowsExpectation", rows(
            # e.g. a supplement of the 2021–2023 roadmaps while the seed holds the 2024 model only: add the
            # rule of its period to the seed (its cap is not guessed)
            "WITH s AS (SELECT b.* FROM {batch} AS b JOIN register.cur_optima_supplement c USING (stg_id)) "
            "SELECT s.supplement_id FROM s WHERE NOT EXISTS (SELECT 1 FROM "
            "ref.care_package_rule r WHERE r.care_level = s.care_level AND s.start_date >= r.valid_from "
            "AND (r.valid_to IS NULL OR s.start_date <= r.valid_to))"), severity=WARNING),
        # a need above what a home package may give (28 hours a week in the 2024 model:
        # residential_offer_minutes_per_week) is to be offered residential care, and the offer recorded
        Check("need_above_home_care_offered_residential", "UnexpectedRowsExpectation", rows(
            "WITH s AS (SELECT b.* FROM {batch} AS b JOIN register.cur_optima_supplement c USING (stg_id)) "
            "SELECT s.supplement_id FROM s WHERE s.need_minutes_per_week > "
            f"{rule('residential_offer_minutes_per_week', 's.start_date')} AND s.residential_offered IS NOT TRUE"),
            severity=WARNING),
    ]),
    # the rules of the care model over each supplement's services and schedule (OPTIMA format 1.2)
    Suite("care_model_rules", "register", "int_supplement_service", "staging", [
        # the services' standard minutes a week within the package cap of the level in force on the
        # supplement's start date (a date no cap covers is level_cap_rule_in_force's)
        Check("services_within_level_cap", "UnexpectedRowsExpectation", rows(
            "WITH s AS (SELECT b.supplement_id, b.care_level, b.start_date, sum(b.standard_minutes_per_week) AS m "
            "FROM {batch} AS b GROUP BY 1, 2, 3) SELECT s.supplement_id, s.m FROM s JOIN ref.care_package_rule r "
            "ON r.care_level = s.care_level AND s.start_date >= r.valid_from "
            "AND (r.valid_to IS NULL OR s.start_date <= r.valid_to) WHERE s.m > r.max_minutes_per_week")),
        # the schedule (most visits a day, most days a week of its services) fits a schedule its level
        # allows (ref.care_schedule_limit in force on the start date); a date no limit covers is not judged
        Check("schedule_within_limits", "UnexpectedRowsExpectation", rows(
            "WITH s AS (SELECT supplement_id, care_level, start_date, max(visits_per_day) AS visits, "
            "max(days_per_week) AS days FROM {batch} GROUP BY 1, 2, 3) "
            "SELECT s.supplement_id, s.visits, s.days FROM s WHERE EXISTS (SELECT 1 FROM ref.care_schedule_limit l "
            "WHERE l.care_level = s.care_level AND s.start_date >= l.valid_from "
            "AND (l.valid_to IS NULL OR s.start_date <= l.valid_to)) AND NOT EXISTS (SELECT 1 FROM "
            "ref.care_schedule_limit l WHERE l.care_level = s.care_level AND s.start_date >= l.valid_from "
            "AND (l.valid_to IS NULL OR s.start_date <= l.valid_to) AND s.visits <= l.max_visits_per_day "
            "AND s.days BETWEEN l.min_days_per_week AND l.max_days_per_week)"), severity=WARNING),
        Check("service_in_catalogue", "UnexpectedRowsExpectation", rows(
            "SELECT supplement_id, service_code FROM {batch} WHERE NOT in_catalogue"), severity=WARNING),
        # no substitution: a care report of a supplement with a list of services names one of them
        Check("no_service_outside_supplement", "UnexpectedRowsExpectation", rows(
            "SELECT r.report_id, r.service_code FROM register.cur_optima_care_report r "
            "WHERE EXISTS (SELECT 1 FROM {batch}) AND r.supplement_id IN "
            "(SELECT supplement_id FROM register.int_supplement_service) AND NOT EXISTS (SELECT 1 FROM "
            "register.int_supplement_service x WHERE x.supplement_id = r.supplement_id "
            "AND x.service_code = r.service_code)"), severity=WARNING),
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
        # services of a supplement that is not (or no longer) there belong to no package: not counted
        # anywhere (int_supplement_service), shown here for the export's owner to tidy
        Check("services_for_known_supplement", "UnexpectedRowsExpectation", rows(
            "SELECT c.natural_key FROM register.cur_optima_supplement_service c WHERE EXISTS (SELECT 1 FROM {batch}) "
            "AND NOT EXISTS (SELECT 1 FROM register.cur_optima_supplement s WHERE s.supplement_id = c.supplement_id)"),
            severity=WARNING),
        Check("report_for_known_supplement", "UnexpectedRowsExpectation", rows(
            "WITH c AS (SELECT * FROM {batch}) SELECT c.report_id FROM c WHERE NOT EXISTS "
            "(SELECT 1 FROM register.cur_optima_supplement s WHERE s.supplement_id = c.supplement_id)")),
        # per supplement and month with a report: delivered against assigned (minutes per week × days in
        # force at home / 7), both from the current versions
        Check("delivered_not_below_assigned", "UnexpectedRowsExpectation", rows(
            "SELECT d.supplement_id, d.month FROM register.int_package_month d "
            "WHERE (d.supplement_id, d.month) IN (SELECT supplement_id, month FROM {batch}) "
            f"AND d.delivered_minutes < {rule('under_delivery_warning_share', 'd.month')} * d.assigned_minutes"),
            severity=WARNING),
        # against the whole package, hospital days included (care reported on those days is a finding of
        # its own, not an implausible report)
        Check("delivered_not_implausibly_above_assigned", "UnexpectedRowsExpectation", rows(
            "SELECT d.supplement_id, d.month FROM register.int_package_month d "
            "WHERE (d.supplement_id, d.month) IN (SELECT supplement_id, month FROM {batch}) "
            f"AND d.delivered_minutes > {rule('over_delivery_share', 'd.month')} * (d.assigned_minutes + "
            f"d.hospital_minutes) + {rule('over_delivery_tolerance_minutes', 'd.month')}")),
        Check("no_care_reported_on_hospital_days", "UnexpectedRowsExpectation", rows(
            "SELECT d.supplement_id, d.month FROM register.int_package_month d "
            "WHERE (d.supplement_id, d.month) IN (SELECT supplement_id, month FROM {batch}) "
            "AND d.hospital_days > 0 AND d.delivered_minutes > d.assigned_minutes + "
            f"{rule('over_delivery_tolerance_minutes', 'd.month')}"), severity=WARNING),
    ]),

    Suite("audit_load_batch", "audit", "load_batch", "staging", [
        # every figure of a loaded batch against the rows that are there: raw, every staging table of
        # every source, quarantine (a row lost, or deleted behind the loader's back, fails it)
        Check("read_equals_staged_plus_quarantined", "UnexpectedRowsExpectation", rows(
            "WITH b AS (SELECT * FROM {batch} AS lb WHERE lb.status = 'loaded'), "
            "r AS (SELECT batch_id, count(*) AS n FROM raw.record GROUP BY batch_id), "
            f"s AS (SELECT batch_id, count(*) AS n FROM ({STAGED_ROWS}) x GROUP BY batch_id), "
            "q AS (SELECT batch_id, count(*) AS n FROM quarantine.record GROUP BY batch_id) "
            "SELECT b.batch_id FROM b LEFT JOIN r USING (batch_id) LEFT JOIN s USING (batch_id) "
            "LEFT JOIN q USING (batch_id) WHERE b.n_read <> b.n_staged + b.n_quarantined "
            # less what the retention job removed (etl/register/retention.py), counted per batch
            "OR b.n_read - b.n_expired_staged - b.n_expired_quarantined <> coalesce(r.n, 0) "
            "OR b.n_staged - b.n_expired_staged <> coalesce(s.n, 0) "
            "OR b.n_quarantined - b.n_expired_quarantined <> coalesce(q.n, 0)")),
        # landing tables carry no per-row foreign key (bulk-load cost): their batches are checked here — a
        # batch still loading is being written (seen by no reader; one whose landing died is removed by
        # the next landing or build: etl/landing/load.py reap)
        Check("landed_rows_belong_to_a_loaded_batch", "UnexpectedRowsExpectation", rows(
            "SELECT l.batch_id FROM (SELECT DISTINCT batch_id FROM raw.record UNION "
            "SELECT DISTINCT batch_id FROM quarantine.record) l "
            "WHERE l.batch_id NOT IN (SELECT batch_id FROM {batch} WHERE status IN ('loaded', 'loading'))")),
        # a raw record without its key would not be found as a duplicate by a later batch
        Check("every_raw_record_has_its_content_key", "UnexpectedRowsExpectation", rows(
            "WITH r AS (SELECT batch_id, count(*) AS n FROM raw.record GROUP BY batch_id), "
            "k AS (SELECT batch_id, count(*) AS n FROM raw.content_key GROUP BY batch_id) "
            "SELECT batch_id FROM r FULL JOIN k USING (batch_id) WHERE coalesce(r.n, 0) <> coalesce(k.n, 0) "
            "AND batch_id IN (SELECT lb.batch_id FROM {batch} AS lb WHERE lb.status = 'loaded')")),
        Check("no_batch_left_loading", "UnexpectedRowsExpectation", rows(
            "SELECT batch_id FROM {batch} WHERE status = 'loading' AND started_at < now() - interval '1 day'"),
              severity=WARNING),
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
            # records landed while the last build ran are the next build's (ingestion runs concurrently);
            # a record of a source that founds no person may stay unlinked: held (retention.py)
            "SELECT r.entity, r.stg_id FROM register.int_person_record r LEFT JOIN register.person_link l "
            "ON l.entity = r.entity AND l.stg_id = r.stg_id "
            "JOIN ref.person_source s ON s.entity = r.entity AND s.founds_person WHERE l.person_id IS NULL "
            "AND (SELECT loaded_seq FROM audit.load_batch lb WHERE lb.batch_id = r.batch_id) "
            "<= (SELECT max_loaded_seq FROM register.build_run ORDER BY build_id DESC LIMIT 1) "
            "AND EXISTS (SELECT 1 FROM {batch} AS b)")),
        Check("held_records_within_retention", "UnexpectedRowsExpectation", rows(
            # an unmatched ОМС, ЗАГС or ФРИ record kept a week past its retention: the job is not running
            "SELECT r.entity, r.stg_id FROM register.int_person_record r "
            "JOIN ref.person_source s ON s.entity = r.entity AND NOT s.founds_person "
            "JOIN audit.load_batch lb ON lb.batch_id = r.batch_id "
            "WHERE lb.finished_at < now() - make_interval(days => s.retention_days + 7) "
            "AND NOT EXISTS (SELECT 1 FROM register.person_link l WHERE l.entity = r.entity AND l.stg_id = r.stg_id) "
            "AND EXISTS (SELECT 1 FROM {batch} AS b)"), severity=WARNING),
        Check("one_active_supplement_per_person", "UnexpectedRowsExpectation", rows(
            "WITH p AS (SELECT * FROM {batch} AS b) SELECT a.supplement_id, b.supplement_id AS overlaps "
            "FROM register.int_supplement a JOIN register.int_supplement b ON a.person_id = b.person_id "
            "AND a.supplement_id < b.supplement_id AND a.start_date <= coalesce(b.end_date, 'infinity') "
            "AND b.start_date <= coalesce(a.end_date, 'infinity') WHERE EXISTS (SELECT 1 FROM p)")),
        Check("assessment_within_reassessment_period", "UnexpectedRowsExpectation", rows(
            # receiving care on the data's own reference date with no assessment in the period before it
            # (reassessment_period_months in force on that date: a year in the models)
            # (latest assessment per recipient first: a correlated NOT EXISTS here is quadratic)
            "WITH p AS (SELECT * FROM {batch} AS b), asof AS (SELECT max(month + interval '1 month - 1 day')::date AS d "
            "FROM register.cur_optima_care_report), last_a AS (SELECT recipient_id, max(assessment_date) AS d "
            "FROM register.cur_optima_assessment GROUP BY recipient_id) SELECT rp.recipient_id "
            "FROM register.int_recipient_person rp JOIN p ON p.person_id = rp.person_id CROSS JOIN asof "
            "LEFT JOIN last_a la ON la.recipient_id = rp.recipient_id WHERE rp.status = 'receiving' "
            "AND p.death_date IS NULL AND (la.d IS NULL OR la.d <= asof.d - "
            f"{rule('reassessment_period_months', 'asof.d')} * interval '1 month')"), severity=WARNING),
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
        grain_unique("mart_grain_unique", "month", "oktmo", "care_level"),
    ]),
    Suite("mart_identification_funnel", "build", "mart_identification_funnel", "marts", [
        grain_unique("funnel_grain_unique", "month", "oktmo", "channel"),
        Check("funnel_stages_do_not_grow", "UnexpectedRowsExpectation", rows(
            # each stage is a subset of the one before: more assessed than identified is a join error
            "SELECT month, oktmo, channel FROM {batch} WHERE assessed > identified "
            "OR recognised_level_1 + recognised_level_2 + recognised_level_3 + not_needing > assessed "
            "OR contracted > identified OR receiving > identified")),
    ]),
    Suite("mart_package_execution_recipient", "build", "mart_package_execution_recipient", "marts", [
        grain_unique("execution_grain_unique", "month", "person_key", "provider_id", "oktmo",
                     shown=("month", "person_key", "provider_id")),
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
        grain_unique("kpi_grain_unique", "period_kind", "period_end", "oktmo", "code"),
        # the region's figure is its municipalities' (the unknown one included): every numerator adds up
        region_sums("kpi_region_sums_municipalities", ("period_kind", "period_end", "code"), ("numerator",)),
        Check("kpi_parameters_present", "UnexpectedRowsExpectation", rows(
            # an indicator needing a figure from outside our sources has no parameter for its year
            "SELECT period_end, code FROM {batch} WHERE source = 'parameter' AND multiplier IS NULL"),
            severity=WARNING),
    ]),
    Suite("mart_plan_fact", "build", "mart_plan_fact", "marts", [
        grain_unique("plan_fact_grain_unique", "month", "oktmo", "indicator"),
        region_sums("plan_fact_region_sums_municipalities", ("month", "indicator"), ("planned", "fact")),
        # a plan row naming an indicator plan_indicator.csv does not know (a typo in the RKC's file)
        Check("plan_indicator_known", "UnexpectedRowsExpectation", rows(
            "SELECT DISTINCT indicator FROM {batch} WHERE name_ru IS NULL"), severity=WARNING),
        Check("budget_tariff_known", "UnexpectedRowsExpectation", rows(
            "SELECT month, oktmo FROM {batch} WHERE indicator = 'budget_rub' AND fact IS NULL"), severity=WARNING),
    ]),
    Suite("mart_package_execution_provider", "build", "mart_package_execution_provider", "marts", [
        grain_unique("provider_grain_unique", "month", "provider_id", "oktmo"),
        Check("provider_counts_consistent", "UnexpectedRowsExpectation", rows(
            "SELECT month, provider_id, oktmo FROM {batch} WHERE recipients < 1 OR assigned_minutes < 0 "
            "OR delivered_minutes < 0 OR under_delivered_recipients > recipients")),
        # the roll-up loses and invents nothing: its totals are the recipient mart's of the same build
        Check("provider_totals_equal_recipient_mart", "UnexpectedRowsExpectation", rows(
            "WITH p AS (SELECT coalesce(sum(b.recipients), 0) AS n, coalesce(sum(b.assigned_minutes), 0) AS a, "
            "coalesce(sum(b.delivered_minutes), 0) AS d FROM {batch} AS b), "
            "r AS (SELECT count(*) AS n, coalesce(sum(assigned_minutes), 0) AS a, coalesce(sum(delivered_minutes), 0) AS d "
            "FROM build.mart_package_execution_recipient) "
            "SELECT p.n, r.n FROM p CROSS JOIN r WHERE p.n <> r.n OR p.a <> r.a OR p.d <> r.d")),
    ]),
    Suite("mart_coverage", "build", "mart_coverage", "marts", [
        grain_unique("coverage_grain_unique", "year", "oktmo"),
        Check("coverage_persons_positive", "UnexpectedRowsExpectation", rows(
            "SELECT year, oktmo FROM {batch} WHERE ltc_persons < 1 OR coverage_share < 0 "
            "OR target_persons + age_unknown_persons > ltc_persons")),
        # a year or sex ref.working_age has no boundary for: their ages are unknown, not guessed
        Check("coverage_working_age_known", "UnexpectedRowsExpectation", rows(
            "SELECT year, oktmo, age_unknown_persons FROM {batch} WHERE age_unknown_persons > 0"), severity=WARNING),
        # the base is a figure from outside our sources (ref.coverage_base): missing, the share is unknown
        Check("coverage_base_present", "UnexpectedRowsExpectation", rows(
            "SELECT year, oktmo FROM {batch} WHERE persons_needing_social_services IS NULL"), severity=WARNING),
    ]),
    Suite("mart_rental_points", "build", "mart_rental_points", "marts", [
        grain_unique("rental_grain_unique", "month", "oktmo", "point_id"),
        Check("rental_counts_not_negative", "UnexpectedRowsExpectation", rows(
            "SELECT month, oktmo, point_id FROM {batch} WHERE requested < 0 OR issued < 0 OR returned < 0 "
            "OR waiting_at_month_end < 0 OR in_use_at_month_end < 0")),
        # an item issued before it was requested is a source error worth a look, not a reason to stop
        Check("rental_wait_not_negative", "UnexpectedRowsExpectation", rows(
            "SELECT month, oktmo, point_id FROM {batch} WHERE median_wait_days < 0"), severity=WARNING),
    ]),
    Suite("mart_care_school", "build", "mart_care_school", "marts", [
        grain_unique("school_grain_unique", "month", "oktmo", "trainee_kind"),
        Check("school_counts_consistent", "UnexpectedRowsExpectation", rows(
            "SELECT month, oktmo, trainee_kind FROM {batch} WHERE trainings < 1 OR people_trained > trainings "
            "OR hours < 0")),
    ]),
    Suite("worklist_reassessment_due", "build", "worklist_reassessment_due", "marts", [
        # samples carry the pseudonymous key, never a register ID or a name
        grain_unique("reassessment_one_row_per_recipient", "person_key"),
        Check("reassessment_reason_present", "ExpectColumnValuesToNotBeNull", {"column": "reason"}),
    ]),
    Suite("worklist_under_delivery", "build", "worklist_under_delivery", "marts", [
        grain_unique("under_delivery_one_row_per_recipient_provider", "person_key", "provider_id"),
        Check("under_delivery_is_under", "UnexpectedRowsExpectation", rows(
            "SELECT person_key FROM {batch} WHERE delivered_minutes >= assigned_minutes")),
    ]),
    # the worklists of the screens (etl/web): one row an item, the item's key unique (samples show the
    # pseudonymous key, never the register id the item key holds)
    *[Suite(name, "build", name, "marts", [grain_unique(f"{name.removeprefix('worklist_')}_one_row_per_item",
                                                         "item_key", shown=("min(person_key) AS person_key",))])
      for name in ("worklist_assessment_overdue", "worklist_recognised_without_package", "worklist_dead_receiving",
                   "worklist_hospitalised_now", "worklist_no_care_report", "worklist_supplement_expiring",
                   "worklist_priority_waiting")],
]
CHECKPOINTS = ["staging", "register", "marts"]
