"""Person linkage: features → blocking and scoring → training → guarded clustering.

One module per job (Splink's layout): `features` folds identifiers inside DuckDB, `pairs` blocks and
scores, `train` estimates m/u from the data, `cluster` forms persons under guards, `model` holds
settings and the trained model as data, `dedup` runs it all on a CSV, `baseline` runs Splink the way
its documentation suggests, for comparison.
"""
