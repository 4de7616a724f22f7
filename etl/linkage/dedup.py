"""Linkage of a table of person records into persons: the engine behind `ltcreg dedup` and the
register. The input is a DuckDB relation `linkage_input` (see features); the result is a label per
record, the decisions taken on pairs and the model used.
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from etl.base import duckpipe
from etl.linkage import features, pairs, train
from etl.linkage.cluster import Clusterer, Decision
from etl.linkage.model import Model, explain, gamma_sql, load_settings, weight_of

log = logging.getLogger(__name__)


@dataclass
class Result:
    labels: list[int]                      # cluster root per rid
    decisions: list[Decision]
    model: Model
    settings: dict
    timings: dict = field(default_factory=dict)
    counts: dict = field(default_factory=dict)


def connect(threads: int | None = None, memory_limit: str | None = None) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(f"SET threads = {threads or os.cpu_count() or 1}")
    if memory_limit:
        con.execute(f"SET memory_limit = '{memory_limit}'")
    con.execute("SET preserve_insertion_order = true")
    con.execute("SET enable_progress_bar = false")
    return con


def link(con, settings: dict | None = None, model: Model | None = None, incremental: bool = False,
         manual: tuple[list, list] = ([], []), train_seed: int = 1, features_built: bool = False) -> Result:
    """Link the records of `linkage_input`. Without a model, one is trained on the input itself."""
    settings = settings or load_settings()
    t = time.perf_counter()
    timings = {}

    def lap(name):
        nonlocal t
        now = time.perf_counter()
        timings[name] = round(now - t, 2)
        t = now

    n = con.execute("SELECT count(*) FROM rec").fetchone()[0] if features_built else features.build(con)
    lap("features")
    trained_here = model is None
    if trained_here:
        model = train.train(con, settings, seed=train_seed)
        lap("train")
    else:
        model = model.for_records(n)
    n_pairs = pairs.score(con, settings, model, incremental=incremental, reuse=trained_here)
    lap("score")
    th = settings["thresholds"]
    link_w, review_w = weight_of(th["link_probability"]), weight_of(th["review_probability"])
    records = con.execute(
        "SELECT snils, fn, dob, dob_year, dob_imprecise, sex, fixed FROM rec ORDER BY rid").fetchall()
    edges = con.execute(f"SELECT l, r, w FROM pairs WHERE w >= {review_w!r} OR g_snils = 0"
                        f" ORDER BY w DESC, l, r").fetchnumpy()
    rivals = _rivals(con, review_w)
    namesakes, namesake_rule = _namesakes(con, settings, model, n, link_w)
    swapped = _swapped(con, settings, link_w)
    lap("fetch")
    guards, guard_state = learnt_guards(settings["guards"], model)
    c = Clusterer(records, guards)
    fixed = con.execute("SELECT list(rid ORDER BY rid) FROM rec WHERE fixed IS NOT NULL GROUP BY fixed"
                        " HAVING count(*) > 1 ORDER BY min(rid)").fetchall()
    c.seed([g[0] for g in fixed])
    c.apply_manual(*manual)
    c.run(zip(edges["l"].tolist(), edges["r"].tolist(), edges["w"].tolist()), link_w, review_w,
          rivals=rivals, namesakes=namesakes, margin=th["ambiguity_margin"], swapped=swapped)
    labels = c.labels()
    lap("cluster")
    review = [d for d in c.decisions if d.outcome.startswith("review")]
    counts = {"records": n, "candidate_pairs": n_pairs, "links": sum(d.outcome == "link" for d in c.decisions),
              "review": len(review),
              "review_held": {k: sum(d.outcome == f"review:{k}" for d in review) for k in ("ambiguous", "namesake")},
              "refused": sum(d.outcome.startswith("refused") for d in c.decisions),
              "clusters": len(set(labels)), "training": model.meta.get("m_estimated_by", {}).get("surname"),
              "namesake_rule": namesake_rule, "guards": guard_state}
    return Result(labels, c.decisions, model, settings, timings, counts)


def learnt_guards(guards: dict, model: Model) -> tuple[dict, dict]:
    """The guards for this model: the first-name and birth-date guards (settings' `guards.learnt`)
    hold only where the model says true pairs rarely disagree on that field (m of `level` ≤ max_m).
    Returns the guards for the clusterer and, per learnt guard, whether it holds and the m it read."""
    rule = guards.get("learnt")
    if not rule:
        return guards, {}
    out, state = dict(guards), {}
    for name in rule["comparisons"]:
        m = model.levels[name][rule["level"]]["m"]
        out[name] = m <= rule["max_m"]
        state[name] = {"holds": out[name], "m_different": round(m, 4)}
    return out, state


def _swapped(con, settings: dict, link_w: float) -> set[tuple[int, int]]:
    """Pairs at the link weight whose surname and first name compare as swapped."""
    surname = next(c for c in settings["comparisons"] if c["name"] == "surname")
    labels = [x["label"] for x in surname["levels"]]
    if "swapped_with_first_name" not in labels:
        return set()
    return set(con.execute(f"SELECT l, r FROM pairs WHERE w >= {link_w!r} AND g_surname = "
                           f"{labels.index('swapped_with_first_name')}").fetchall())


def _rivals(con, review_w: float) -> dict[int, list[tuple[int, float]]]:
    """For each record without a valid SNILS and with two or more candidates at the review weight or
    above: its candidates, strongest first (the clusterer asks whether they could be one person)."""
    rows = con.execute(f"""
        WITH e AS (SELECT l AS x, r AS y, w FROM pairs WHERE w >= {review_w!r}
                   UNION ALL SELECT r, l, w FROM pairs WHERE w >= {review_w!r}),
             k AS (SELECT e.* FROM e JOIN rec ON rec.rid = e.x WHERE rec.snils IS NULL)
        SELECT x, list(y ORDER BY w DESC, y), list(w ORDER BY w DESC, y) FROM k
        GROUP BY x HAVING count(*) > 1""").fetchall()
    return {x: list(zip(ys, ws)) for x, ys, ws in rows}


def namesake_share(con, settings: dict) -> tuple[int, int]:
    """How often the namesake pattern joins two different people here, learnt from the records that
    can tell: pairs that both carry a valid SNILS, agree on full name and exact birth date and differ
    in municipality and address. Returns (such pairs with two different SNILS, all such pairs)."""
    comps = {c["name"]: c for c in settings["comparisons"]}
    address = comps["address"]
    different = ", ".join(str(i) for i in _levels_of(address, settings["namesakes"]["evidence"]["address"]))
    return con.execute(f"""
        WITH k AS (SELECT * FROM rec WHERE snils IS NOT NULL AND sn IS NOT NULL AND fn IS NOT NULL
                   AND pn IS NOT NULL AND dob IS NOT NULL AND NOT dob_imprecise)
        SELECT count(*) FILTER (WHERE l.snils <> r.snils), count(*)
        FROM k l JOIN k r ON l.sn = r.sn AND l.fn = r.fn AND l.pn = r.pn AND l.dob = r.dob AND l.rid < r.rid
        WHERE ({gamma_sql(address)}) IN ({different})""").fetchone()


def _levels_of(comparison: dict, labels: str | list[str]) -> list[int]:
    """The level numbers of one label or a list of them ("null" is -1)."""
    names = [x["label"] for x in comparison["levels"]]
    return [-1 if x == "null" else names.index(x) for x in ([labels] if isinstance(labels, str) else labels)]


def _namesakes(con, settings: dict, model: Model, n: int, link_w: float) -> tuple[set, dict]:
    """The pairs to hold for review under settings' `namesakes` rule, and what the rule saw: held
    when namesakes are not rare among such pairs here (share of different SNILS ≥ max_namesake_share)
    and the name is common enough (expected namesakes ≥ expected_min). Below min_labelled_pairs such
    pairs the data cannot say, and the match weight decides alone (holding every such pair of a
    register without SNILS would hold every person who moved)."""
    rule = settings.get("namesakes")
    if not rule:
        return set(), {}
    different, labelled = namesake_share(con, settings)
    share = different / labelled if labelled >= rule["min_labelled_pairs"] else None
    seen = {"labelled_pairs": labelled, "different_snils": different,
            "share": round(share, 4) if share is not None else None}
    if share is None or share < rule["max_namesake_share"]:
        return set(), seen
    return {(l, r) for l, r, expected in namesake_pairs(con, settings, model, n, link_w)
            if expected >= rule["expected_min"]}, seen


def namesake_pairs(con, settings: dict, model: Model, n: int, min_weight: float) -> list[tuple[int, int, float]]:
    """Scored pairs (weight ≥ min_weight) whose evidence is only the pattern of settings' `namesakes`
    (full name and birth date alike, SNILS on one side at most, municipality and address different),
    each with the number of namesakes born the same day expected among the records: (records - 1) ×
    the term frequencies of surname, first name and patronymic × u of an exact birth date."""
    rule = settings.get("namesakes")
    if not rule:
        return []
    comps = {c["name"]: c for c in settings["comparisons"]}

    where = " AND ".join(f"p.g_{name} IN ({', '.join(map(str, _levels_of(comps[name], labels)))})"
                         for name, labels in rule["evidence"].items())
    tf = [name for name in ("surname", "first_name", "patronymic") if comps[name].get("tf_column")]
    # a name either side lacks narrows nothing: its factor is 1 (an inner join on the left record's value
    # dropped such pairs, and with them the namesakes whose record had no patronymic)
    joins = " ".join(f"LEFT JOIN tf_{t} t_{t} ON t_{t}.v = l.{comps[t]['tf_column']}" for t in tf)
    expected = " * ".join([f"{n - 1}", repr(model.levels["birth_date"]["exact"]["u"])]
                          + [f"CASE WHEN p.g_{t} < 0 THEN 1.0 ELSE coalesce(t_{t}.f, 1.0) END" for t in tf])
    return con.execute(f"""SELECT p.l, p.r, {expected} FROM pairs p JOIN rec l ON l.rid = p.l {joins}
        WHERE p.w >= {min_weight!r} AND {where}""").fetchall()


def decisions_table(result: Result) -> pa.Table:
    d = result.decisions
    return pa.table({"l": pa.array([x.l for x in d], pa.int64()), "r": pa.array([x.r for x in d], pa.int64()),
                     "outcome": [x.outcome for x in d]})


def explanations(con, result: Result, outcomes: tuple[str, ...] = ("link", "review")):
    """Yield (l, r, weight, outcome, contributions) for the decided pairs with the given outcomes."""
    con.register("decided", decisions_table(result))
    names = [c["name"] for c in result.settings["comparisons"]]
    tf = [c["name"] for c in result.settings["comparisons"] if c.get("tf_column")]
    rows = con.execute(f"""SELECT d.l, d.r, p.w, d.outcome, {', '.join(f'p.g_{n}' for n in names)}
            {''.join(f', p.a_{n}' for n in tf)}
        FROM decided d JOIN pairs p ON p.l = d.l AND p.r = d.r
        WHERE split_part(d.outcome, ':', 1) IN (SELECT unnest(?::VARCHAR[])) ORDER BY d.l, d.r""",
                       [list(outcomes)]).fetchall()
    con.unregister("decided")
    for l, r, w, outcome, *rest in rows:
        g, a = rest[:len(names)], rest[len(names):]
        yield l, r, w, outcome, explain(result.settings, result.model, dict(zip(names, g)), dict(zip(tf, a)))


def dedup_csv(input_path: Path, output_path: Path, model_path: Path | None = None, explain_path: Path | None = None,
              save_model: Path | None = None, threads: int | None = None, existing: Path | None = None) -> Result:
    """`ltcreg dedup`: a CSV of person records in, `record_id, register_id` out.

    With `existing` (an earlier output, record_id → register_id) the run is an increment: records
    found there keep their register ids and are never regrouped; only the others are linked, to
    those persons or into new ones, numbered after the highest existing id."""
    con = connect(threads)
    t0 = time.perf_counter()
    try:
        con.execute(f"CREATE TABLE raw AS SELECT * FROM {_read_person_csv(input_path)}", [str(input_path)])
    except duckdb.Error as e:  # DuckDB's message quotes the row: say where, not what
        raise ValueError(f"{input_path}: not a readable CSV ({duckpipe.error_place(e)})") from None
    cols = [r[0] for r in con.execute("DESCRIBE raw").fetchall()]
    if "record_id" not in cols:
        raise ValueError(f"{input_path}: no record_id column (found: {', '.join(cols)})")
    bad = con.execute("SELECT count(*) FILTER (WHERE nullif(trim(record_id), '') IS NULL), "
                      "count(*) - count(DISTINCT record_id) FROM raw").fetchone()
    if bad[0] or bad[1]:
        raise ValueError(f"{input_path}: record_id must be present and unique ({bad[0]} empty, {bad[1]} repeated)")
    select = ", ".join(f"nullif(trim(i.{c}), '') AS {c}" if c in cols else f"NULL::VARCHAR AS {c}"
                       for c in features.INPUT_COLUMNS)
    if existing:
        con.execute(f"CREATE TABLE prev AS SELECT record_id, register_id FROM {_read_person_csv(existing)}",
                    [str(existing)])
        # an earlier person is a fixed cluster: its register id numbered densely as the cluster key
        con.execute(f"""CREATE TABLE linkage_fixed AS SELECT {select}, i.rowid AS ord,
                CASE WHEN p.register_id IS NOT NULL THEN dense_rank() OVER (ORDER BY p.register_id) END::BIGINT
                    AS fixed, p.register_id IS NULL AS is_new, p.register_id AS prev_id
            FROM raw i LEFT JOIN prev p ON p.record_id = trim(i.record_id)""")
        con.execute("CREATE VIEW linkage_input AS SELECT * FROM linkage_fixed")
    else:
        con.execute(f"CREATE VIEW linkage_input AS SELECT {select}, i.rowid AS ord FROM raw i")
    load_s = round(time.perf_counter() - t0, 2)
    result = link(con, model=Model.load(model_path) if model_path else None, incremental=bool(existing))
    result.timings = {"read": load_s, **result.timings}
    t = time.perf_counter()
    # Register ids numbered by each person's first record in the input: the same input, the same ids.
    names: dict[int, str] = {}
    start = 0
    if existing:
        prev = con.execute("SELECT r.rid, i.prev_id FROM rec r JOIN linkage_fixed i ON i.record_id = r.record_id"
                           " WHERE i.prev_id IS NOT NULL").fetchall()
        for rid, reg in prev:
            names.setdefault(result.labels[rid], reg)
        nums = [int(x[1:]) for _, x in prev if x[1:].isdigit()]
        start = max(nums, default=0)
    for root in result.labels:
        if root not in names:
            start += 1
            names[root] = f"P{start:08d}"
    con.register("labels", pa.table({"rid": pa.array(range(len(result.labels)), pa.int64()),
                                     "register_id": [names[root] for root in result.labels]}))
    con.execute(f"COPY (SELECT r.record_id, l.register_id FROM rec r JOIN labels l USING (rid) ORDER BY rid) "
                f"TO '{_sql_path(output_path)}' (HEADER, DELIMITER ',')")
    if explain_path:
        _write_explanations(con, result, explain_path)
    if save_model:
        result.model.save(save_model)
    result.timings["write"] = round(time.perf_counter() - t, 2)
    return result


def _read_person_csv(path: Path) -> str:
    """read_csv(?) of a person CSV as RFC 4180 has it (a header row, '"' quoting with '"' doubled, the
    delimiter of the header line: ',', ';' or tab), every value text and every option named: DuckDB's
    sniffer misreads a file whose values hold quotes (СНТ "Ромашка")."""
    import csv

    with open(path, encoding="utf-8-sig", newline="") as f:
        line = f.readline()
    delimiter = max([",", ";", "\t"], key=line.count)
    header = [h.strip() for h in next(csv.reader([line], delimiter=delimiter), [])]
    if not header or len(set(header)) != len(header) or any(not h for h in header):
        raise ValueError(f"{path}: the header row needs distinct, non-empty column names")
    columns = "{" + ", ".join("'" + h.replace("'", "''") + "': 'VARCHAR'" for h in header) + "}"
    # DuckDB 2.0 in strict mode reads nothing, silently, when new_line is '\r\n' (or is not the file's):
    # named only for LF files, CRLF is left to its detection
    line_end = "" if line.endswith("\r\n") else " new_line = '\\n',"
    return (f"read_csv(?, header = true, columns = {columns}, encoding = 'utf-8', delim = '{delimiter}',"
            f" quote = '\"', escape = '\"',{line_end} nullstr = '', auto_detect = false, strict_mode = true)")


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")


def _write_explanations(con, result: Result, path: Path) -> None:
    import csv

    ids = dict(con.execute("SELECT rid, record_id FROM rec").fetchall())
    names = [c["name"] for c in result.settings["comparisons"]]
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["record_id_l", "record_id_r", "match_weight", "outcome"]
                   + [x for n in names for x in (f"{n}_level", f"{n}_weight")])
        for l, r, weight, outcome, contrib in explanations(con, result, ("link", "review", "refused")):
            w.writerow([ids[l], ids[r], round(weight, 3), outcome] + [x for n in names for x in contrib[n]])
