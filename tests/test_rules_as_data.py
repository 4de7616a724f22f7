"""Rules of the care model as data with validity dates (issue 18, item 2, in part): package caps by
level read from sql/seeds at every checkpoint and build, the cap of the supplement's start date, a
date no rule covers said as such instead of failing the region, typing groups of the earlier models
read as care levels. Every figure here is worked out by hand."""
from __future__ import annotations

import datetime as dt

from etl import quality, register
from etl.base import db
from etl.models import sqlmodels
from tests.conftest import fixture_batch, insert_staging, query

d = dt.date
RULES = "care_level,max_minutes_per_week,valid_from,valid_to,basis\n"


def staging_outcomes() -> dict[str, object]:
    return {o.check: o for o in quality.run_checkpoint("staging", "test") if o.suite == "staging_optima_supplement"}


def supplement(sid: str, level: int, minutes: int, start: dt.date):
    insert_staging("optima_supplement", export_id="X", supplement_id=sid, recipient_id="R1", care_level=level,
                   minutes_per_week=minutes, start_date=start)


def test_a_cap_changing_mid_month_applies_from_its_date_and_a_changed_file_needs_no_migration(
        clean_db, tmp_path, monkeypatch):
    config = tmp_path / "config"
    config.mkdir()
    for p in (sqlmodels.SQL_DIR / "seeds").glob("*.csv"):
        (config / p.name).write_bytes(p.read_bytes())
    # level 1: 840 minutes a week until 14 March 2024, 600 from the 15th
    (config / "care_package_rule.csv").write_text(
        RULES + "1,840,2024-01-01,2024-03-14,до смены\n1,600,2024-03-15,,после смены\n"
                "2,1260,2024-01-01,,2024\n3,1680,2024-01-01,,2024\n", encoding="utf-8")
    monkeypatch.setenv("LTC_CONFIG_DIR", str(config))
    supplement("S1", 1, 800, d(2024, 3, 10))  # 800 ≤ 840: within the cap of its start date
    supplement("S2", 1, 800, d(2024, 3, 20))  # 800 > 600: over it
    supplement("S3", 1, 600, d(2024, 3, 20))  # 600 ≤ 600: within
    supplement("S4", 1, 841, d(2024, 3, 14))  # 841 > 840 on the last day of the old cap
    out = staging_outcomes()
    cap = out["minutes_within_level_cap"]
    assert not cap.success and cap.unexpected_count == 2  # S2 and S4
    assert out["level_cap_rule_in_force"].success
    assert query("SELECT max_minutes_per_week FROM ref.care_package_rule WHERE care_level = 1 ORDER BY valid_from") \
        == [(840,), (600,)]
    # OPTIMA re-sends S2 corrected to 600 minutes: its current version is within the cap
    insert_staging("optima_supplement", batch_id=fixture_batch("correction"), export_id="X2", supplement_id="S2",
                   recipient_id="R1", care_level=1, minutes_per_week=600, start_date=d(2024, 3, 20))
    assert staging_outcomes()["minutes_within_level_cap"].unexpected_count == 1  # S4 alone
    # the file changed back: the next checkpoint reads it, no migration in between
    monkeypatch.delenv("LTC_CONFIG_DIR")
    out = staging_outcomes()
    assert out["minutes_within_level_cap"].unexpected_count == 1  # S4 alone: 841 > 840 (2024 model)


def test_a_supplement_of_2022_is_said_to_lack_its_rule_not_counted_over_the_cap(clean_db):
    """The seed holds the 2024 model only (the caps of the 2021–2023 roadmaps are not in our sources):
    a supplement of 2022 is not a violation of a cap that was not in force; a warning names it, and the
    critical check — which would stop the region's publication — passes."""
    supplement("S22", 2, 1300, d(2022, 6, 1))   # 1 300 > 1 260, but the 2024 cap was not in force in 2022
    supplement("S24", 2, 1300, d(2024, 6, 1))   # over the 2024 cap
    out = staging_outcomes()
    assert out["minutes_within_level_cap"].unexpected_count == 1
    missing = out["level_cap_rule_in_force"]
    assert not missing.success and missing.severity == quality.WARNING and missing.unexpected_count == 1
    query("DELETE FROM staging.optima_supplement WHERE supplement_id = 'S24'")
    assert staging_outcomes()["minutes_within_level_cap"].success


def test_an_assessment_with_only_a_typing_group_sets_the_level_it_corresponds_to(clean_db):
    insert_staging("optima_recipient", export_id="X", recipient_id="R1", surname="Орлова", first_name="Анна",
                   patronymic="Петровна", sex="F", birth_date=d(1940, 5, 6), oktmo="20701000",
                   identified_channel="other", identified_date=d(2023, 1, 5), status="receiving")
    insert_staging("optima_assessment", export_id="X", assessment_id="A1", recipient_id="R1",
                   assessment_date=d(2023, 2, 1), typing_group=4)           # group 4 ≡ level 2
    insert_staging("optima_assessment", export_id="X", assessment_id="A2", recipient_id="R1",
                   assessment_date=d(2024, 2, 1), care_level=3, typing_group=5)  # the level itself wins
    insert_staging("optima_assessment", export_id="X", assessment_id="A3", recipient_id="R1",
                   assessment_date=d(2025, 2, 1), typing_group=2)           # no level: not in need
    register.build()
    with db.transaction() as conn, conn.cursor() as cur:
        sqlmodels.apply_views(cur)
    assert query("SELECT assessment_id, care_level, level_from_typing_group FROM register.int_assessment "
                 "ORDER BY 1") == [("A1", 2, True), ("A2", 3, False), ("A3", None, False)]
    assert query("SELECT care_level, valid_from FROM register.int_person_level ORDER BY valid_from") == [
        (2, d(2023, 2, 1)), (3, d(2024, 2, 1)), (None, d(2025, 2, 1))]
    # the pathway's first recognition is the typing group's assessment, at its level
    assert query("SELECT first_recognition, first_level FROM register.int_person_pathway") == [(d(2023, 2, 1), 2)]
    # A1 re-sent corrected with its level (1) beside the group: the correction counts, once
    insert_staging("optima_assessment", batch_id=fixture_batch("correction"), export_id="X2", assessment_id="A1",
                   recipient_id="R1", assessment_date=d(2023, 2, 1), care_level=1, typing_group=4)
    assert query("SELECT assessment_id, care_level, level_from_typing_group FROM register.int_assessment "
                 "ORDER BY 1") == [("A1", 1, False), ("A2", 3, False), ("A3", None, False)]
    assert query("SELECT first_level FROM register.int_person_pathway") == [(1,)]
