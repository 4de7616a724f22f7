"""Ground floor: the database, DuckDB helpers, identifier rules (in Python and their one SQL form) and
redaction. Imports nothing else of the project."""
