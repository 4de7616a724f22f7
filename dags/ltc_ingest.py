"""One ingestion DAG per source system: land the files found in its landing folder.

Each run loads whatever is new (files already loaded are skipped by content hash) and updates the
source's staging Asset, which schedules the register DAG.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import Param, dag, task

import connectors
from etl.base import settings
from etl.orchestration.assets import STAGED
from etl.orchestration import ops
from etl.orchestration.ops import DB_POOL, on_failure

def make_ingest_dag(source: str):
    spec = connectors.source(source)

    @dag(
        dag_id=f"ltc_ingest_{source}",
        description=spec.title,
        schedule=spec.schedule,
        start_date=datetime(2024, 1, 1),
        catchup=False,
        max_active_runs=1,
        tags=["ltc", "ingest", source],
        default_args={"retries": 2, "retry_delay": ops.retry_delay(timedelta(minutes=2)),
                  "execution_timeout": timedelta(hours=1), "on_failure_callback": on_failure},
        params={"landing_dir": Param(str(settings.current().landing_dir or ""), type="string",
                                     description="Folder with one subfolder per source; empty = var/landing")},
    )
    def ingest_dag():
        @task(outlets=[STAGED[source]], pool=DB_POOL)
        def ingest(**context) -> dict:
            from etl.orchestration import pipeline

            folder = pipeline.landing_dir(source, context["params"].get("landing_dir") or None)
            config = settings.current()
            if source == "optima" and config.optima_api_url:
                # the export API, when configured: pulled into the landing folder, then landed with the rest
                print("OPTIMA API:", pipeline.pull_optima(config.optima_api_url, context["run_id"],
                                                           token=config.optima_token, landing=folder))
            summary = pipeline.ingest(source, folder, context["run_id"])
            if summary["rejected"]:
                print("rejected files:", *summary["rejected"], sep="\n  ")
            return summary

        ingest()

    return ingest_dag()


for _source in STAGED:
    globals()[f"ltc_ingest_{_source}"] = make_ingest_dag(_source)
