"""The unified register: linking staged records into persons with stable register IDs (build), and the
human decisions on it (decisions). What this face exports is what the CLI, the pipeline and the
screens use."""
from etl.register.builder import SYSTEM, active_model, build, export_csv, record_key, refresh_golden, \
    register_id, save_model, train_model
from etl.register.retention import expire
from etl.register.decisions import decide, decide_pair, merge, resolve, review_item, review_items, unmerge

__all__ = ["SYSTEM", "active_model", "build", "decide", "decide_pair", "expire", "export_csv", "merge",
           "record_key", "refresh_golden", "register_id", "resolve", "review_item", "review_items", "save_model",
           "train_model", "unmerge"]
