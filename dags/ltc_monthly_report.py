"""Monthly monitoring report for the RKC: on the 1st of each month, the previous month's XLSX and
HTML from the published marts; e-mailed through an Airflow SMTP connection when one is configured
(LTC_REPORT_SMTP_CONN_ID and LTC_REPORT_TO).
"""
from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag, task

from etl.orchestration import ops
from etl.orchestration.ops import on_failure


@dag(
    dag_id="ltc_monthly_report",
    description="Ежемесячный отчёт мониторинга СДУ для РКЦ (XLSX и HTML)",
    schedule="0 6 1 * *",
    start_date=datetime(2024, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["ltc", "report"],
    default_args={"retries": 2, "retry_delay": ops.retry_delay(timedelta(minutes=10)),
                  "execution_timeout": timedelta(minutes=30), "on_failure_callback": on_failure},
)
def ltc_monthly_report():
    @task
    def build_report(**context) -> dict:
        from etl.reporting import report

        month = report.previous_month(context["logical_date"].date())
        return report.monthly(month)

    @task
    def send_report(out: dict) -> str:
        from etl.base import settings

        conn_id, to = settings.current().report_smtp_conn_id, settings.current().report_to
        if not conn_id or not to:
            return "no SMTP connection configured: report left in the reports folder"
        from airflow.providers.smtp.hooks.smtp import SmtpHook

        with SmtpHook(smtp_conn_id=conn_id) as hook:
            hook.send_email_smtp(to=[a.strip() for a in to.split(",")], subject="Мониторинг СДУ: ежемесячный отчёт",
                                 html_content="Отчёт мониторинга системы долговременного ухода во вложении.",
                                 files=[out["xlsx"], out["html"]])
        return f"sent to {to}"

    send_report(build_report())


ltc_monthly_report_dag = ltc_monthly_report()
