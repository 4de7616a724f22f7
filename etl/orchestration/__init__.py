"""Orchestration: the pipeline steps the DAGs and the CLI call (pipeline), Airflow assets (assets) and
the failure callback (ops)."""
