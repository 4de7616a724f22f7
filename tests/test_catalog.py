"""The catalogue of SQL models: bare SELECTs with their YAML beside, ordered by their references."""
import shutil

import pytest

from etl.models import catalog, sqlmodels


@pytest.fixture
def sql_copy(tmp_path, monkeypatch):
    """A copy of sql/ the catalogue reads instead of the project's."""
    target = tmp_path / "sql"
    shutil.copytree(catalog.SQL_DIR, target)
    monkeypatch.setattr(catalog, "SQL_DIR", target)
    catalog.models.cache_clear()
    catalog.natural_keys.cache_clear()
    yield target
    catalog.models.cache_clear()
    catalog.natural_keys.cache_clear()


def test_every_model_is_described_and_comes_after_what_it_reads():
    models = catalog.models()
    position = {name: i for i, name in enumerate(models)}
    assert len(models) == len(sqlmodels.INTERMEDIATE) + len(sqlmodels.MARTS)
    for name, model in models.items():
        assert model.description and model.grain, name
        for ref in model.refs & set(models):
            assert position[ref] < position[name], (name, ref)
    # a mart of the same build read by another (build.<mart>) is built first
    assert position["mart_package_execution_recipient"] < position["mart_package_execution_provider"]
    assert sqlmodels.published_schema("worklist_under_delivery") == "worklist"
    assert "int_supplement_grid" in sqlmodels.MATERIALIZED and "int_person_record" not in sqlmodels.MATERIALIZED
    assert "cur_optima_care_report" in sqlmodels.MATERIALIZED  # from sql/current/current.yml
    assert set(sqlmodels.IN_POSTGRES) == {"mart_kpi", "mart_care_school", "mart_data_quality", "mart_plan_fact"}


def test_a_worklist_is_named_for_its_screen(sql_copy):
    assert all(catalog.models()[n].title for n in catalog.named("worklists"))
    (sql_copy / "worklists" / "worklist_untitled.sql").write_text("SELECT 1 AS item_key\n")
    (sql_copy / "worklists" / "worklist_untitled.yml").write_text("description: d\ngrain: item_key\n")
    catalog.models.cache_clear()
    with pytest.raises(catalog.CatalogError, match="worklist_untitled.yml: title is empty"):
        catalog.models()


def test_a_new_mart_is_one_sql_file_and_its_yaml(sql_copy):
    (sql_copy / "marts" / "mart_a_new_one.sql").write_text(
        "SELECT month, sum(recipients) AS recipients FROM build.mart_recipients_by_level GROUP BY month\n")
    (sql_copy / "marts" / "mart_a_new_one.yml").write_text(
        "name: mart_a_new_one\ndescription: Recipients per month, region-wide.\ngrain: month\n")
    names = catalog.named("marts", "worklists")
    assert "mart_a_new_one" in names
    assert names.index("mart_recipients_by_level") < names.index("mart_a_new_one")  # from its reference
    assert catalog.models()["mart_a_new_one"].materialized == "table"


@pytest.mark.parametrize("sql,yml,message", [
    ("SELECT 1 AS x\n", None, "no mart_bad.yml beside it"),
    ("-- a view\nCREATE VIEW marts.mart_bad AS SELECT 1\n", "description: d\ngrain: g\n", "bare SELECT"),
    ("SELECT 1 AS x\n", "description: d\n", "grain is empty"),
    ("SELECT 1 AS x\n", "description: d\ngrain: g\nmaterialised: table\n", "unknown keys materialised"),
    ("SELECT 1 AS x\n", "description: d\ngrain: g\nengine: spark\n", "engine 'spark'"),
    ("SELECT * FROM build.mart_bad_too\n", "description: d\ngrain: g\n", "circle"),
])
def test_a_malformed_model_is_refused_with_its_reason(sql_copy, sql, yml, message):
    (sql_copy / "marts" / "mart_bad.sql").write_text(sql)
    if yml is not None:
        (sql_copy / "marts" / "mart_bad.yml").write_text(yml)
    (sql_copy / "marts" / "mart_bad_too.sql").write_text("SELECT * FROM build.mart_bad\n")
    (sql_copy / "marts" / "mart_bad_too.yml").write_text("description: d\ngrain: g\n")
    with pytest.raises(catalog.CatalogError, match=message):
        catalog.models()


def test_a_column_a_migration_adds_to_a_staging_table_reaches_the_views(clean_db):
    """PostgreSQL expands `s.*` when a view is made: the views are made again when a table they read
    gains a column (seen: the ЕГИССО export failing on an upgraded database, "column r.email does not
    exist", after migration 0023 added it to staging.optima_recipient)."""
    import psycopg2
    import pytest

    from etl.base import db
    from tests.conftest import query

    with db.transaction() as conn, conn.cursor() as cur:
        sqlmodels.apply_views(cur)
    query("ALTER TABLE staging.optima_recipient ADD COLUMN added_later text")
    try:
        with db.transaction() as conn, conn.cursor() as cur:
            sqlmodels.apply_views(cur)
        assert query("SELECT count(added_later) FROM register.cur_optima_recipient") == [(0,)]
    finally:
        query("ALTER TABLE staging.optima_recipient DROP COLUMN added_later CASCADE")
        with db.transaction() as conn, conn.cursor() as cur:
            sqlmodels.apply_views(cur)
    with pytest.raises(psycopg2.errors.UndefinedColumn):
        query("SELECT added_later FROM register.cur_optima_recipient")
