"""Every setting the project reads from the environment, in one place: its name, type, default and
meaning. `current()` parses them all at once (a bad value fails with the variable's name, before any
work starts) and keeps the result until the environment changes; `ltcreg settings` prints them.

Secrets (the database URL's password, API tokens) are read here too, and never printed.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, fields
from pathlib import Path

_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)I?B?\s*")


def size_mb(name: str, text: str) -> int:
    """A memory size (512MB, 2GB, 1.5G) in MB; at least 16."""
    m = _SIZE.fullmatch(text.upper())
    if not m:
        raise ValueError(f"{name}={text!r}: expected a size such as 512MB or 2GB")
    scale = {"K": 1 / 1024, "": 1 / 1024 ** 2, "M": 1, "G": 1024, "T": 1024 ** 2}[m.group(2)]
    return max(16, int(float(m.group(1)) * scale))


def _int(name: str, text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{name}={text!r}: expected a whole number") from None
    if value < 0:
        raise ValueError(f"{name}={text!r}: expected zero or more")
    return value


@dataclass(frozen=True)
class Setting:
    env: str
    default: str | None
    meaning: str
    secret: bool = False


# (field, its variable); the order is the one `ltcreg settings` prints
SETTINGS = {
    "database_url": Setting("DATABASE_URL", None, "PostgreSQL to use; unset: the embedded server under var/pgdata",
                            secret=True),
    "var_dir": Setting("LTC_VAR_DIR", None, "folder for the embedded server, landing, reports (default ./var)"),
    "landing_dir": Setting("LTC_LANDING_DIR", None, "folder with a subfolder per source (default var/landing)"),
    "reports_dir": Setting("LTC_REPORTS_DIR", None, "folder for the monthly reports (default var/reports)"),
    "config_dir": Setting("LTC_CONFIG_DIR", None, "folder of the configuration CSVs (default sql/seeds)"),
    "marts_engine": Setting("LTC_MARTS_ENGINE", "duckdb", "duckdb (default) or postgres: where marts are computed"),
    "duckdb_memory_mb": Setting("LTC_DUCKDB_MEMORY", "256MB", "DuckDB memory limit of a landing"),
    "marts_duckdb_memory_mb": Setting("LTC_MARTS_DUCKDB_MEMORY", "2GB", "DuckDB memory limit of a marts build"),
    "parse_workers": Setting("LTC_PARSE_WORKERS", "0", "ОМС register parse workers (0: one per core, at least 2)"),
    "task_retry_delay_s": Setting("LTC_TASK_RETRY_DELAY", None, "seconds before a failed task is retried "
                                  "(unset: each DAG's own, 2 to 10 minutes)"),
    "db_pool": Setting("LTC_DB_POOL", "default_pool", "Airflow pool of the tasks that write the database"),
    "alert_smtp_conn_id": Setting("LTC_ALERT_SMTP_CONN_ID", None, "Airflow SMTP connection for failure e-mails"),
    "alert_to": Setting("LTC_ALERT_TO", None, "where failure e-mails go"),
    "report_smtp_conn_id": Setting("LTC_REPORT_SMTP_CONN_ID", None, "Airflow SMTP connection for the monthly report"),
    "report_to": Setting("LTC_REPORT_TO", None, "who receives the monthly report"),
    "optima_api_url": Setting("LTC_OPTIMA_API_URL", None, "the OPTIMA export API; unset: bundles from files only"),
    "optima_token": Setting("LTC_OPTIMA_TOKEN", None, "the OPTIMA export API's token", secret=True),
}


@dataclass(frozen=True)
class Settings:
    database_url: str | None
    var_dir: Path | None
    landing_dir: Path | None
    reports_dir: Path | None
    config_dir: Path | None
    marts_engine: str
    duckdb_memory_mb: int
    marts_duckdb_memory_mb: int
    parse_workers: int
    task_retry_delay_s: int | None
    db_pool: str
    alert_smtp_conn_id: str | None
    alert_to: str | None
    report_smtp_conn_id: str | None
    report_to: str | None
    optima_api_url: str | None
    optima_token: str | None

    @classmethod
    def from_env(cls, env: dict[str, str]) -> "Settings":
        raw = {f: (env.get(s.env) or "").strip() or s.default for f, s in SETTINGS.items()}
        engine = (raw["marts_engine"] or "").lower()
        if engine not in ("duckdb", "postgres"):
            raise ValueError(f"LTC_MARTS_ENGINE={raw['marts_engine']!r}: expected duckdb or postgres")
        path = {f: Path(raw[f]) if raw[f] else None for f in ("var_dir", "landing_dir", "reports_dir", "config_dir")}
        return cls(database_url=raw["database_url"], **path, marts_engine=engine,
                   duckdb_memory_mb=size_mb("LTC_DUCKDB_MEMORY", raw["duckdb_memory_mb"]),
                   marts_duckdb_memory_mb=size_mb("LTC_MARTS_DUCKDB_MEMORY", raw["marts_duckdb_memory_mb"]),
                   parse_workers=_int("LTC_PARSE_WORKERS", raw["parse_workers"]),
                   task_retry_delay_s=_int("LTC_TASK_RETRY_DELAY", raw["task_retry_delay_s"])
                   if raw["task_retry_delay_s"] else None, db_pool=raw["db_pool"],
                   alert_smtp_conn_id=raw["alert_smtp_conn_id"], alert_to=raw["alert_to"],
                   report_smtp_conn_id=raw["report_smtp_conn_id"], report_to=raw["report_to"],
                   optima_api_url=raw["optima_api_url"], optima_token=raw["optima_token"])

    def lines(self) -> list[str]:
        """`VARIABLE = value  # meaning`, secrets shown as set or not."""
        out = []
        for f in fields(self):
            s, value = SETTINGS[f.name], getattr(self, f.name)
            shown = ("(set)" if value else "(unset)") if s.secret else ("(unset)" if value is None else str(value))
            shown += " MB" if f.name.endswith("_mb") else ""
            out.append(f"{s.env:<24} {shown:<28} # {s.meaning}")
        return out


_CACHE: dict[tuple, Settings] = {}


def current() -> Settings:
    """The settings of the environment as it is now, parsed once per distinct set of values."""
    key = tuple(os.environ.get(s.env) for s in SETTINGS.values())
    if key not in _CACHE:
        _CACHE.clear()
        _CACHE[key] = Settings.from_env(dict(os.environ))
    return _CACHE[key]
