"""Scoring of candidate pairs by Splink (DuckDB backend, in-process).

Our settings and trained model become a Splink settings dictionary: every comparison level with its
SQL, m and u, term-frequency adjustment on exact name agreement. Blocking is ours (pairs.candidates:
symmetric keys, incremental restriction) and is handed to Splink as the pairs to score; so are our
term-frequency tables (shrunk for small registers). Splink's predictions come back as table `pairs`
in the shape the clusterer and the explanations read: l, r, g_<comparison> (our level numbering),
a_<comparison> (term-frequency adjustment, bits), w (match weight).
"""
from __future__ import annotations

import logging
import re

from etl.linkage.model import Model, null_sql

CHUNK_PAIRS = 1_500_000
_SIDE = re.compile(r"\b([lr])\.([a-z_][a-z0-9_]*)\b")


def splink_sql(sql: str) -> str:
    """`l.sn = r.sn` → `"sn_l" = "sn_r"` (Splink names the two sides' columns with suffixes)."""
    return _SIDE.sub(lambda m: f'"{m[2]}_{m[1]}"', sql)


def settings_dict(settings: dict, model: Model) -> dict:
    comparisons = []
    for c in settings["comparisons"]:
        # Splink numbers levels from the most similar down to 0 and takes them in the order given
        levels = [{"sql_condition": splink_sql(null_sql(c)), "label_for_charts": "null", "is_null_level": True}]
        for lvl in c["levels"]:
            p = model.levels[c["name"]][lvl["label"]]
            level = {"sql_condition": splink_sql(lvl["sql"]), "label_for_charts": lvl["label"],
                     "m_probability": p["m"], "u_probability": p["u"]}
            if c.get("tf_column") and lvl["label"] == "exact":
                level.update(tf_adjustment_column=c["tf_column"], tf_adjustment_weight=1.0)
            levels.append(level)
        comparisons.append({"output_column_name": c["name"], "comparison_levels": levels})
    return {
        "link_type": "dedupe_only",
        "unique_id_column_name": "rid",
        "probability_two_random_records_match": model.prior,
        "comparisons": comparisons,
        "blocking_rules_to_generate_predictions": [],
        "retain_matching_columns": True,  # Splink 5 keeps the gamma (level) columns only with this
        "retain_intermediate_calculation_columns": True,
    }


def score(con, settings: dict, model: Model) -> None:
    """Score table `cand(l, r)` over table `rec` with Splink; create table `pairs`."""
    from splink import DuckDBAPI, Linker

    db_api = DuckDBAPI(connection=con)
    # Splink's progress lines are not our log
    linker = Linker(db_api.register("rec"), settings_dict(settings, model), log_level=logging.WARNING)
    for c in settings["comparisons"]:
        if col := c.get("tf_column"):
            tf = db_api.register(con.sql(f"SELECT v AS {col}, f AS tf_{col} FROM tf_{c['name']}"))
            linker.table_management.register_term_frequency_lookup(tf, col)
    cols = []
    for c in settings["comparisons"]:
        n, top = c["name"], len(c["levels"]) - 1
        cols.append(f"CASE WHEN gamma_{n} < 0 THEN -1 ELSE {top} - gamma_{n} END AS g_{n}")
        if c.get("tf_column"):
            cols.append(f"coalesce(mw_tf_adj_{n}, 0.0) AS a_{n}")
    # Scored in slices: Splink's predictions carry both sides' columns, a few GB for millions of pairs
    total = con.execute("SELECT count(*) FROM cand").fetchone()[0]
    slices = max(1, -(-total // CHUNK_PAIRS))
    for i in range(slices):
        con.execute(f"CREATE OR REPLACE TEMP TABLE cand_{i} AS SELECT '0' AS match_key, l AS join_key_l,"
                    f" r AS join_key_r FROM cand WHERE (l + r) % {slices} = {i}")
        linker.table_management.register_blocked_pairs_for_predict(db_api.register(f"cand_{i}"))
        predictions = linker.inference.predict()
        select = f"SELECT rid_l AS l, rid_r AS r, {', '.join(cols)}, match_weight AS w FROM {predictions.physical_name}"
        con.execute(f"CREATE OR REPLACE TEMP TABLE pairs AS {select}" if i == 0 else f"INSERT INTO pairs {select}")
        predictions.drop_table_from_database_and_remove_from_cache()
        con.execute(f"DROP TABLE cand_{i}")
