"""Register, validation gate and mart publication; runs when any source's staging Asset is updated.

retention job (held records past their period) → register build →
staging/register checkpoints → build marts (into the `build` schema) → marts checkpoint → publish.
A failed critical expectation fails its task, so nothing downstream is published.
"""
from __future__ import annotations

import functools
import operator
from datetime import datetime, timedelta

from airflow.sdk import dag, task

from etl.orchestration.assets import MART_RECIPIENTS, REGISTER, STAGED
from etl.orchestration import ops
from etl.orchestration.ops import DB_POOL, on_failure


@dag(
    dag_id="ltc_register",
    description="Единый регистр получателей СДУ: дедупликация, проверки качества, публикация витрин",
    schedule=functools.reduce(operator.or_, STAGED.values()),  # any source's new staging
    start_date=datetime(2024, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["ltc", "register", "marts"],
    default_args={"retries": 1, "retry_delay": ops.retry_delay(timedelta(minutes=2)),
                  "execution_timeout": timedelta(hours=2), "on_failure_callback": on_failure},
)
def ltc_register():
    @task(pool=DB_POOL)
    def expire_held(**context) -> dict:
        from etl.orchestration import pipeline

        return pipeline.expire_held(context["run_id"])

    @task(outlets=[REGISTER], pool=DB_POOL)
    def build_register(**context) -> dict:
        from etl.orchestration import pipeline

        return pipeline.build_register(context["run_id"])

    @task(pool=DB_POOL)
    def validate_staging(**context) -> dict:
        return ops.validate("staging", context["run_id"])

    @task(pool=DB_POOL)
    def validate_register(**context) -> dict:
        return ops.validate("register", context["run_id"])

    @task(pool=DB_POOL)
    def build_marts(**context) -> dict:
        from etl.orchestration import pipeline

        return pipeline.build_marts(context["run_id"])

    @task(pool=DB_POOL)
    def validate_marts(**context) -> dict:
        return ops.validate("marts", context["run_id"])

    @task(outlets=[MART_RECIPIENTS], pool=DB_POOL)
    def publish_marts(**context) -> dict:
        from etl.orchestration import pipeline

        return pipeline.publish_marts(context["run_id"])

    reg = build_register()
    expire_held() >> reg
    checks = [validate_staging(), validate_register()]
    marts = build_marts()
    reg >> checks >> marts >> validate_marts() >> publish_marts()


ltc_register_dag = ltc_register()
