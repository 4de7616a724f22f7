"""The SQL models under sql/: views, marts and worklists built (sqlmodels) in PostgreSQL or DuckDB
(martengine), closed periods (periods) and access rules (access)."""
