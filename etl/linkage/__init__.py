"""Person linkage: features → blocking and scoring → training → guarded clustering.

One module per job (Splink's layout): `features` folds identifiers inside DuckDB, `pairs` blocks and
scores, `train` estimates m/u from the data, `cluster` forms persons under guards, `model` holds
settings and the trained model as data, `dedup` runs it all on a CSV, `baseline` runs Splink the way
its documentation suggests, for comparison.

The face below is what the register (and any other caller) uses: a DuckDB connection holding a
relation `linkage_input` (features.INPUT_COLUMNS), `prepare` to fold it into the records table
RECORDS — columns rid (the record's number), record_id, snils (valid or NULL), fixed (the person it
already belongs to) — then `link`, `explanations` and `train`.
"""
from etl.linkage.dedup import Result, connect, dedup_csv, explanations, link
from etl.linkage.features import INPUT_COLUMNS
from etl.linkage.features import build as prepare
from etl.linkage.model import MODEL_PATH, Model, load_settings
from etl.linkage.train import train

RECORDS = "rec"

__all__ = ["INPUT_COLUMNS", "MODEL_PATH", "RECORDS", "Model", "Result", "connect", "dedup_csv", "explanations",
           "link", "load_settings", "prepare", "train"]
