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


def run_febrl_example(input_path: Path, output_path: Path, with_soc_sec_id: bool = False) -> dict:
    """Splink as its own FEBRL 3 example configures it (docs/demos/examples/duckdb/febrl3): name and
    date-of-birth comparisons, street number and postcode exact with term frequencies, blocking on
    each field, the prior from deterministic rules at recall 0.9, EM sessions on date of birth and
    postcode — on a FEBRL-shaped CSV (rec_id, given_name, surname, street_number, postcode,
    date_of_birth, soc_sec_id, …). The example also compares soc_sec_id, an identifier the dedup input
    does not carry (it is not a SNILS): left out unless `with_soc_sec_id`, which shows what Splink
    makes of the information we do not give ours. Clusters at 0.95, as run_baseline."""
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    con = connect()
    t0 = time.perf_counter()
    con.execute("""CREATE TABLE people AS SELECT trim(rec_id) AS rec_id,
            nullif(trim(given_name), '') AS given_name, nullif(trim(surname), '') AS surname,
            nullif(trim(street_number), '') AS street_number, nullif(trim(postcode), '') AS postcode,
            nullif(trim(date_of_birth), '') AS date_of_birth, nullif(trim(soc_sec_id), '') AS soc_sec_id
        FROM read_csv(?, header = true, all_varchar = true)""", [str(input_path)])
    timings = {"read": round(time.perf_counter() - t0, 2)}
    blocking = [block_on("given_name"), block_on("surname"), block_on("date_of_birth"), block_on("postcode")]
    comparisons = [
        cl.NameComparison("given_name"),
        cl.NameComparison("surname"),
        cl.DateOfBirthComparison("date_of_birth", input_is_string=True, datetime_format="%Y%m%d"),
        cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
        cl.ExactMatch("postcode").configure(term_frequency_adjustments=True),
    ]
    deterministic = [block_on("given_name", "surname", "date_of_birth"),
                     "l.given_name = r.surname and l.surname = r.given_name and l.date_of_birth = r.date_of_birth"]
    if with_soc_sec_id:
        blocking.insert(0, block_on("soc_sec_id"))
        comparisons.insert(3, cl.DamerauLevenshteinAtThresholds("soc_sec_id", [2]))
        deterministic.insert(0, block_on("soc_sec_id"))
    settings = SettingsCreator(unique_id_column_name="rec_id", link_type="dedupe_only",
                               blocking_rules_to_generate_predictions=blocking, comparisons=comparisons)
    linker = Linker(DuckDBAPI(connection=con).register("people"), settings)
    t = time.perf_counter()
    linker.training.estimate_probability_two_random_records_match(deterministic, recall=0.9)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=2)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("date_of_birth"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("postcode"))
    timings["train"] = round(time.perf_counter() - t, 2)
    t = time.perf_counter()
    predictions = linker.inference.predict(threshold_match_probability=0.2)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(predictions, THRESHOLD)
    timings["predict_cluster"] = round(time.perf_counter() - t, 2)
    con.execute(f"COPY (SELECT rec_id AS record_id, cluster_id AS register_id FROM {clusters.physical_name}) "
                f"TO '{str(output_path).replace(chr(39), chr(39) * 2)}' (HEADER, DELIMITER ',')")
    return {"timings": timings}
