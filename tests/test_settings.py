"""Settings: one place reads the environment, typed, with clear errors; secrets never printed."""
import re
from pathlib import Path

import pytest

from etl.base import settings

ROOT = Path(__file__).resolve().parents[1]


def test_values_are_typed_and_follow_the_environment(monkeypatch):
    monkeypatch.setenv("LTC_MARTS_DUCKDB_MEMORY", "1.5GB")
    monkeypatch.setenv("LTC_MARTS_ENGINE", " Postgres ")
    monkeypatch.setenv("LTC_LANDING_DIR", "/srv/landing")
    s = settings.current()
    assert (s.marts_duckdb_memory_mb, s.marts_engine, s.landing_dir) == (1536, "postgres", Path("/srv/landing"))
    monkeypatch.setenv("LTC_MARTS_ENGINE", "duckdb")  # a changed environment is read again
    assert settings.current().marts_engine == "duckdb"
    monkeypatch.delenv("LTC_MARTS_DUCKDB_MEMORY")
    assert settings.current().marts_duckdb_memory_mb == 2048  # the default


@pytest.mark.parametrize("variable,value,message", [
    ("LTC_MARTS_ENGINE", "spark", "LTC_MARTS_ENGINE='spark': expected duckdb or postgres"),
    ("LTC_DUCKDB_MEMORY", "lots", "LTC_DUCKDB_MEMORY='lots': expected a size"),
    ("LTC_PARSE_WORKERS", "-2", "LTC_PARSE_WORKERS='-2': expected zero or more"),
    ("LTC_PARSE_WORKERS", "four", "LTC_PARSE_WORKERS='four': expected a whole number"),
])
def test_a_bad_value_names_its_variable(monkeypatch, variable, value, message):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValueError, match=re.escape(message)):
        settings.current()


def test_secrets_are_never_printed(monkeypatch, capsys):
    from etl import cli

    monkeypatch.setenv("LTC_OPTIMA_TOKEN", "tok-3f9a")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:pa55word@db/ltc")
    assert cli.main(["settings"]) == 0
    out = capsys.readouterr().out
    assert "tok-3f9a" not in out and "pa55word" not in out
    assert re.search(r"LTC_OPTIMA_TOKEN\s+\(set\)", out) and re.search(r"LTC_MARTS_DUCKDB_MEMORY\s+2048 MB", out)


def test_nothing_else_reads_the_projects_variables():
    """Every LTC_* variable and DATABASE_URL is read through etl.base.settings (writes, e.g. for child
    processes, are allowed)."""
    read = re.compile(r"""os\.(?:environ\.get|getenv)\(\s*["'](LTC_[A-Z_]+|DATABASE_URL)["']|"""
                      r"""os\.environ\[\s*["'](LTC_[A-Z_]+)["']\s*\](?!\s*=)""")
    offenders = []
    for path in [*ROOT.glob("etl/**/*.py"), *ROOT.glob("connectors/**/*.py"), *ROOT.glob("dags/*.py")]:
        if path.name == "settings.py":
            continue
        for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if read.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{no}: {line.strip()}")
    assert not offenders, "\n".join(offenders)
    for name, s in settings.SETTINGS.items():
        assert s.env.startswith("LTC_") or s.env == "DATABASE_URL"
