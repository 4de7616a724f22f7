"""Export to ЕГИССО after each publication of the marts: first the answers to the packages sent before
are read and reconciled (records refused are listed with ЕГИССО's reasons and go again once corrected),
then what changed since ЕГИССО's last accepted state goes out as 10.42.I packages — each recipient
validated against the published XSD first (one that fails is held back with the schema's message),
written to the export folder and, with an SMEV adapter configured (LTC_EGISSO_ADAPTER_URL,
LTC_EGISSO_IT_SYSTEM), sent through it. docs/formats/egisso.md.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag, task

from etl.orchestration import ops
from etl.orchestration.assets import MART_RECIPIENTS
from etl.orchestration.ops import DB_POOL, on_failure


@dag(
    dag_id="ltc_export_egisso",
    description="Выгрузка в ЕГИССО (10.42.I): получатели, типизация, ИППСУ, услуги, планы и факты",
    doc_md=__doc__,
    schedule=MART_RECIPIENTS,  # after each publication
    start_date=datetime(2024, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["ltc", "export", "egisso"],
    default_args={"retries": 2, "retry_delay": ops.retry_delay(timedelta(minutes=10)),
                  "execution_timeout": timedelta(hours=1), "on_failure_callback": on_failure},
)
def ltc_export_egisso():
    @task(pool=DB_POOL)
    def collect_answers(**context) -> dict:
        from etl.orchestration import pipeline

        return pipeline.collect_egisso_answers(context["run_id"])

    @task(pool=DB_POOL)
    def export(**context) -> dict:
        from etl.orchestration import pipeline

        return pipeline.export_egisso(context["run_id"])

    collect_answers() >> export()


ltc_export_egisso_dag = ltc_export_egisso()
