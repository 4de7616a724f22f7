"""Splink configured the way its documentation suggests: the baseline our linkage is measured against
(bench/dedup.py). Name, date-of-birth and SNILS comparisons from Splink's comparison library, u from
random sampling, the prior from a deterministic SNILS rule (full name and birth date where the data
has no SNILS), m by expectation maximisation, then
connected components at 0.95. Input cleaning is what the tutorials do: lower case, trimmed, dates
parsed, SNILS digits only.
"""
from __future__ import annotations

import time
from pathlib import Path

from etl.linkage.dedup import connect

THRESHOLD = 0.95


def run_baseline(input_path: Path, output_path: Path) -> dict:
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    con = connect()
    t0 = time.perf_counter()
    con.execute("""CREATE TABLE people AS SELECT
            record_id AS unique_id,
            nullif(lower(trim(first_name)), '') AS first_name,
            nullif(lower(trim(surname)), '') AS surname,
            nullif(lower(trim(patronymic)), '') AS patronymic,
            CAST(coalesce(try_strptime(birth_date, '%d.%m.%Y'), try_strptime(birth_date, '%Y-%m-%d')) AS DATE)::VARCHAR
                AS dob,
            nullif(regexp_replace(coalesce(snils, ''), '[^0-9]', '', 'g'), '') AS snils,
            nullif(trim(municipality), '') AS municipality
        FROM read_csv(?, header = true, all_varchar = true)""", [str(input_path)])
    timings = {"read": round(time.perf_counter() - t0, 2)}
    settings = SettingsCreator(
        link_type="dedupe_only",
        comparisons=[
            cl.NameComparison("first_name"),
            cl.NameComparison("surname"),
            cl.NameComparison("patronymic"),
            cl.DateOfBirthComparison("dob", input_is_string=True),
            cl.ExactMatch("snils"),
            cl.ExactMatch("municipality"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("snils"), block_on("first_name", "surname"), block_on("surname", "dob"),
            block_on("first_name", "dob"),
        ],
    )
    db_api = DuckDBAPI(connection=con)
    linker = Linker(db_api.register("people"), settings)
    t = time.perf_counter()
    has_snils = con.execute("SELECT count(snils) > 0 FROM people").fetchall()[0][0]
    # the documentation's deterministic rule: the strongest identifier the data has
    deterministic = [block_on("snils")] if has_snils else [block_on("first_name", "surname", "dob")]
    linker.training.estimate_probability_two_random_records_match(deterministic, recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("first_name", "surname"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("dob"))
    timings["train"] = round(time.perf_counter() - t, 2)
    t = time.perf_counter()
    predictions = linker.inference.predict(threshold_match_probability=0.5)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(predictions, THRESHOLD)
    timings["predict_cluster"] = round(time.perf_counter() - t, 2)
    con.execute(f"COPY (SELECT unique_id AS record_id, cluster_id AS register_id FROM {clusters.physical_name}) "
                f"TO '{str(output_path).replace(chr(39), chr(39) * 2)}' (HEADER, DELIMITER ',')")
    return {"timings": timings}
