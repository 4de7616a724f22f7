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


def size_mb(name: str, text: str, least: int = 16) -> int:
    """A size (512MB, 2GB, 1.5G) in MB; at least `least`."""
    m = _SIZE.fullmatch(text.upper())
    if not m:
        raise ValueError(f"{name}={text!r}: expected a size such as 512MB or 2GB")
    scale = {"K": 1 / 1024, "": 1 / 1024 ** 2, "M": 1, "G": 1024, "T": 1024 ** 2}[m.group(2)]
    return max(least, int(float(m.group(1)) * scale))


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
    "egisso_participant": Setting("LTC_EGISSO_PARTICIPANT", "0000.000000",
                                  "the region's participant code in ЕГИССО (informationProviderCode, XXXX.NNNNNN)"),
    "egisso_oszn": Setting("LTC_EGISSO_OSZN", "Орган социальной защиты населения субъекта",
                           "the body applications are filed with (requestOszn of an application)"),
    "egisso_namespace": Setting("LTC_EGISSO_NAMESPACE", "ltc-register",
                                "the region's name for the ЕГИССО uuids (uuid5 of it and each record's key): never change it"),
    "egisso_package_size": Setting("LTC_EGISSO_PACKAGE_SIZE", "1000", "recipients a 10.42.I package holds (at most 1000)"),
    "egisso_package_mb": Setting("LTC_EGISSO_PACKAGE_MB", "4MB", "the most a 10.42.I document may weigh (SMEV 3 takes"
                                 " 5 MB of primary content in a message)"),
    "egisso_adapter_url": Setting("LTC_EGISSO_ADAPTER_URL", None, "the SMEV adapter the ЕГИССО packages go through;"
                                  " unset: files only"),
    "egisso_it_system": Setting("LTC_EGISSO_IT_SYSTEM", None, "the register's IT system code at the SMEV adapter"),
    "web_idle_minutes": Setting("LTC_WEB_IDLE_MINUTES", "30", "a screen session ends after this many idle minutes"),
    "web_session_hours": Setting("LTC_WEB_SESSION_HOURS", "8", "and at the latest this many hours after its log-in"),
    "web_secure_cookie": Setting("LTC_WEB_SECURE_COOKIE", "1", "1: the session cookie is sent over HTTPS only "
                                 "(0 for a plain-HTTP test or demo)"),
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
    egisso_participant: str
    egisso_oszn: str
    egisso_namespace: str
    egisso_package_size: int
    egisso_package_mb: int
    egisso_adapter_url: str | None
    egisso_it_system: str | None
    web_idle_minutes: int
    web_session_hours: int
    web_secure_cookie: bool

    @classmethod
    def from_env(cls, env: dict[str, str]) -> "Settings":
        raw = {f: (env.get(s.env) or "").strip() or s.default for f, s in SETTINGS.items()}
        engine = (raw["marts_engine"] or "").lower()
        if engine not in ("duckdb", "postgres"):
            raise ValueError(f"LTC_MARTS_ENGINE={raw['marts_engine']!r}: expected duckdb or postgres")
        path = {f: Path(raw[f]) if raw[f] else None for f in ("var_dir", "landing_dir", "reports_dir", "config_dir")}
        if not re.fullmatch(r"[A-HJ-NP-Z0-9]{4}\.\d{6}", raw["egisso_participant"]):
            raise ValueError(f"LTC_EGISSO_PARTICIPANT={raw['egisso_participant']!r}: expected a participant code"
                             " such as 1234.000567 (four letters or digits, a dot, six digits)")
        package = _int("LTC_EGISSO_PACKAGE_SIZE", raw["egisso_package_size"])
        if not 1 <= package <= 1000:
            raise ValueError(f"LTC_EGISSO_PACKAGE_SIZE={package}: a package holds 1 to 1000 recipients")
        return cls(database_url=raw["database_url"], **path, marts_engine=engine,
                   duckdb_memory_mb=size_mb("LTC_DUCKDB_MEMORY", raw["duckdb_memory_mb"]),
                   marts_duckdb_memory_mb=size_mb("LTC_MARTS_DUCKDB_MEMORY", raw["marts_duckdb_memory_mb"]),
                   parse_workers=_int("LTC_PARSE_WORKERS", raw["parse_workers"]),
                   task_retry_delay_s=_int("LTC_TASK_RETRY_DELAY", raw["task_retry_delay_s"])
                   if raw["task_retry_delay_s"] else None, db_pool=raw["db_pool"],
                   alert_smtp_conn_id=raw["alert_smtp_conn_id"], alert_to=raw["alert_to"],
                   report_smtp_conn_id=raw["report_smtp_conn_id"], report_to=raw["report_to"],
                   optima_api_url=raw["optima_api_url"], optima_token=raw["optima_token"],
                   egisso_participant=raw["egisso_participant"], egisso_oszn=raw["egisso_oszn"],
                   egisso_namespace=raw["egisso_namespace"], egisso_package_size=package,
                   egisso_package_mb=size_mb("LTC_EGISSO_PACKAGE_MB", raw["egisso_package_mb"], least=1),
                   egisso_adapter_url=raw["egisso_adapter_url"], egisso_it_system=raw["egisso_it_system"],
                   web_idle_minutes=_int("LTC_WEB_IDLE_MINUTES", raw["web_idle_minutes"]),
                   web_session_hours=_int("LTC_WEB_SESSION_HOURS", raw["web_session_hours"]),
                   web_secure_cookie=raw["web_secure_cookie"] not in ("0", "false", "no"))

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
