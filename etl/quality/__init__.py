"""The publication gate: the checks as data (suites) run by Great Expectations (gx). What this face
exports is what the pipeline, the CLI and the DAGs use."""
from etl.quality.gx import GX_ROOT, GateFailed, Outcome, data_docs_index, ensure_project, gate, prune_results, \
    run_checkpoint
from etl.quality.suites import CHECKPOINTS, CRITICAL, SUITES, WARNING, Check, Suite

__all__ = ["CHECKPOINTS", "CRITICAL", "GX_ROOT", "SUITES", "WARNING", "Check", "GateFailed", "Outcome", "Suite",
           "data_docs_index", "ensure_project", "gate", "prune_results", "run_checkpoint"]
