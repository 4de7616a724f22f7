"""Airflow Assets that connect the DAGs (data-aware scheduling): one per source's staging, from
connectors.SOURCES. Imports nothing heavy (the DAG files import it)."""
from airflow.sdk import Asset

import connectors

STAGED = {s.name: Asset(f"ltc://staging/{s.name}", group="staging") for s in connectors.SOURCES}
REGISTER = Asset("ltc://register/person", group="register")
MART_RECIPIENTS = Asset("ltc://marts/mart_recipients_by_level", group="marts")
