"""Operations hooks of the DAGs: failure callback (structured log line, audit row, optional e-mail).

Nothing personal goes into logs or mails: DAG, task, run, try, the exception's class and the first
line of its message with values masked (etl/base/redact.py).
"""
from __future__ import annotations

import json
import logging
from datetime import timedelta

from etl.base import redact, settings

log = logging.getLogger("ltc.ops")
# Database-heavy tasks share one pool so that a backlog of runs cannot swamp the register database.
# The stack names it (LTC_DB_POOL=ltc_database, created by the init service); unset, Airflow's default.
DB_POOL = settings.current().db_pool


def retry_delay(default: timedelta) -> timedelta:
    """A DAG's delay before a retry, unless LTC_TASK_RETRY_DELAY sets one for all (seconds)."""
    seconds = settings.current().task_retry_delay_s
    return default if seconds is None else timedelta(seconds=seconds)


def on_failure(context) -> None:
    ti = context.get("task_instance") or context.get("ti")
    exc = context.get("exception")
    event = {"event": "task_failed", "dag_id": getattr(ti, "dag_id", None), "task_id": getattr(ti, "task_id", None),
             "run_id": context.get("run_id"), "try_number": getattr(ti, "try_number", None),
             "error": type(exc).__name__ if exc else None,
             "message": redact.safe_text(str(exc)) if exc else None}
    log.error(json.dumps(event, ensure_ascii=False))
    try:
        from etl.orchestration import pipeline

        pipeline.record_step(str(event["run_id"]), str(event["dag_id"]), f"{event['task_id']}:failure", "failed",
                             event)
    except Exception as e:  # the callback must not hide the failure it reports
        log.warning("could not record the failure in audit.pipeline_run: %s", redact.safe_message(e))
    conn_id, to = settings.current().alert_smtp_conn_id, settings.current().alert_to
    if conn_id and to:
        try:
            from airflow.providers.smtp.hooks.smtp import SmtpHook

            with SmtpHook(smtp_conn_id=conn_id) as hook:
                hook.send_email_smtp(to=[a.strip() for a in to.split(",")],
                                     subject=f"[СДУ] сбой задачи {event['dag_id']}.{event['task_id']}",
                                     html_content="<pre>" + json.dumps(event, ensure_ascii=False, indent=1) + "</pre>")
        except Exception as e:
            log.warning("failure e-mail not sent: %s", redact.safe_message(e))


def validate(checkpoint: str, run_id: str) -> dict:
    """A checkpoint as a task: a failed gate fails the task at once (AirflowFailException: the same checks
    on the same data give the same answer, so no retry), while a lost connection or a timeout is retried
    like any other task's."""
    from airflow.sdk.exceptions import AirflowFailException

    from etl import quality
    from etl.orchestration import pipeline

    try:
        return pipeline.validate(checkpoint, run_id)
    except quality.GateFailed as e:
        raise AirflowFailException(str(e)) from e
