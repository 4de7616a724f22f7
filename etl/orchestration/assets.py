"""Airflow Assets that connect the DAGs (data-aware scheduling). Imports nothing heavy."""
from airflow.sdk import Asset

HEALTH_STAGED = Asset("ltc://staging/health", group="staging")
SMEV_STAGED = Asset("ltc://staging/smev", group="staging")
OPTIMA_STAGED = Asset("ltc://staging/optima", group="staging")
STAGED = {"health": HEALTH_STAGED, "smev": SMEV_STAGED, "optima": OPTIMA_STAGED}
REGISTER = Asset("ltc://register/person", group="register")
MART_RECIPIENTS = Asset("ltc://marts/mart_recipients_by_level", group="marts")
