"""Landing: files into raw, staging and quarantine, one batch at a time, with lineage (load), and the
set-based engine for tabular extracts (tabular)."""
