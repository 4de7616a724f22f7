"""The SQL models under sql/: intermediate views (re)created in place, marts published atomically."""
from __future__ import annotations

from pathlib import Path

SQL_DIR = Path(__file__).resolve().parents[1] / "sql"
# Creation order matters where a view reads another.
INTERMEDIATE = ["int_person_record", "int_recipient_person", "int_supplement", "int_supplement_month",
                "int_delivery_month"]
MARTS = ["mart_recipients_by_level", "mart_data_quality"]


def sql_text(layer: str, name: str) -> str:
    return (SQL_DIR / layer / f"{name}.sql").read_text(encoding="utf-8")


def apply_views(cur) -> None:
    """Drop and recreate the intermediate views, so a changed definition (even its columns) takes effect."""
    for name in reversed(INTERMEDIATE):
        cur.execute(f"DROP VIEW IF EXISTS register.{name} CASCADE")
    for name in INTERMEDIATE:
        cur.execute(sql_text("intermediate", name))


def build_mart(cur, name: str, schema: str) -> int:
    """Materialise a mart's query as `schema.name` (a build schema, before the gate lets it out)."""
    cur.execute(f"DROP TABLE IF EXISTS {schema}.{name}")
    cur.execute(f"CREATE TABLE {schema}.{name} AS {sql_text('marts', name)}")
    cur.execute(f"SELECT count(*) FROM {schema}.{name}")
    return cur.fetchone()[0]


def publish_mart(cur, name: str, schema: str) -> int:
    """Replace the published rows by the validated build in one transaction (readers see old or new)."""
    cur.execute(f"SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s"
                f" ORDER BY ordinal_position", (schema, name))
    cols = ", ".join(r[0] for r in cur.fetchall())
    cur.execute(f"DELETE FROM marts.{name}")
    cur.execute(f"INSERT INTO marts.{name} ({cols}, published_at) SELECT {cols}, now() FROM {schema}.{name}")
    return cur.rowcount
