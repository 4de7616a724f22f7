"""Training of the m and u probabilities of every comparison level, from the data itself.

- u (how often a level occurs between two different people): from random pairs of records, which
  are almost all non-matches (as Splink estimates u) — almost: where persons have many records
  among few (FEBRL: 1 000 records, 500 true pairs) a random pair is a match often enough to make an
  exact birth date or address look common between strangers. So, once m and the prior are known,
  u is counted again over the same random pairs, each weighted by its probability of being a
  non-match under the model (`u_of_non_matches`), and the prior follows the new u.
- m (how often it occurs between records of one person): from pairs sharing a valid SNILS, which
  are matches but for rare keying errors; the SNILS comparison's own m is taken from pairs agreeing
  on full name and exact birth date that both carry a valid SNILS.
- prior: the share of matching pairs among pairs of records that both carry a valid SNILS.
Where SNILS labels are too few to learn from (fewer than `min_snils_pairs` pairs, or fewer than
`min_snils_share` of the records carrying a valid SNILS), m and the prior come instead from
expectation maximisation over the blocked candidate pairs (etl/linkage/em.py); u stays the
random-pair estimate either way. The model's meta says which way each m was estimated.
Counts are smoothed, so a level never seen gets a small probability instead of zero.
"""
from __future__ import annotations

import datetime as dt
import re

import numpy as np

from etl.linkage import em
from etl.linkage.model import Model
from etl.linkage.pairs import candidates, compare


def _level_counts(con, settings: dict, table: str) -> dict[str, dict[int, int]]:
    out = {}
    for c in settings["comparisons"]:
        rows = con.execute(f"SELECT g_{c['name']}, count(*) FROM {table} WHERE g_{c['name']} >= 0 GROUP BY 1").fetchall()
        out[c["name"]] = dict(rows)
    return out


def _probabilities(settings: dict, counts: dict[str, dict[int, int]], name: str) -> dict[str, float]:
    smoothing = settings["training"]["smoothing"]
    comp = next(c for c in settings["comparisons"] if c["name"] == name)
    total = sum(counts.get(name, {}).values()) + smoothing * len(comp["levels"])
    return {lvl["label"]: (counts.get(name, {}).get(i, 0) + smoothing) / total for i, lvl in enumerate(comp["levels"])}


def train(con, settings: dict, seed: int = 1) -> Model:
    """Train on table `rec` (see features.build)."""
    cfg = settings["training"]
    n = con.execute("SELECT count(*) FROM rec").fetchone()[0]
    if n < 2:
        raise ValueError("training needs at least two records")
    rounds = max(1, min(50, -(-cfg["u_random_pairs"] // n)))
    # Random pairs: the records in `rounds` random orders, each paired with its neighbour in that order.
    con.execute(f"""CREATE OR REPLACE TEMP TABLE u_pairs AS
        WITH o AS (SELECT k, rid, row_number() OVER (PARTITION BY k ORDER BY hash(rid, k, {seed})) AS pos
                   FROM rec, range({rounds}) t(k))
        SELECT a.rid AS l, b.rid AS r FROM o a JOIN o b ON a.k = b.k AND b.pos = a.pos + 1 AND a.pos % 2 = 1""")
    compare(con, settings, "u_pairs", "u_scored")
    u_counts = _level_counts(con, settings, "u_scored")
    con.execute("""CREATE OR REPLACE TEMP TABLE m_pairs AS
        SELECT l.rid AS l, r.rid AS r FROM rec l JOIN rec r ON l.snils = r.snils AND l.rid < r.rid""")
    compare(con, settings, "m_pairs", "m_scored")
    m_counts = _level_counts(con, settings, "m_scored")
    con.execute(f"""CREATE OR REPLACE TEMP TABLE s_pairs AS
        SELECT l.rid AS l, r.rid AS r FROM rec l JOIN rec r ON {cfg['snils_m_block']} AND l.rid < r.rid
        WHERE l.snils IS NOT NULL AND r.snils IS NOT NULL""")
    compare(con, settings, "s_pairs", "s_scored")
    m_counts["snils"] = _level_counts(con, settings, "s_scored")["snils"]

    levels = {}
    for c in settings["comparisons"]:
        m = _probabilities(settings, m_counts, c["name"])
        u = _probabilities(settings, u_counts, c["name"])
        levels[c["name"]] = {label: {"m": m[label], "u": u[label]} for label in m}
    with_snils, snils_pairs = con.execute(
        "SELECT (SELECT count(*) FROM rec WHERE snils IS NOT NULL), (SELECT count(*) FROM m_pairs)").fetchone()
    all_pairs = with_snils * (with_snils - 1) / 2
    prior = snils_pairs / all_pairs if snils_pairs and all_pairs else cfg["default_prior"]
    for t in ("u_pairs", "m_pairs", "m_scored", "s_pairs", "s_scored"):
        con.execute(f"DROP TABLE {t}")
    by = {c["name"]: "snils_pairs" for c in settings["comparisons"]}
    by["snils"] = "full_name_birth_date_pairs"
    meta = {"trained_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "records": n,
            "random_pairs": sum(u_counts["sex"].values()) if u_counts.get("sex") else None,
            "snils_pairs": snils_pairs, "snils_share": round(with_snils / n, 4), "settings_version": settings["version"]}
    if snils_pairs < cfg.get("min_snils_pairs", 0) or with_snils / n < cfg.get("min_snils_share", 0):
        fit = _maximise_expectation(con, settings, levels, seed)
        by = fit.pop("m_by")
        blocked = _candidate_patterns(con, settings, seed)
        prior, _ = _prior_by_em(settings, levels, n, blocked)
    meta["random_pairs_matches"] = round(u_of_non_matches(con, settings, levels, prior), 1)
    con.execute("DROP TABLE u_scored")
    if "em" in by.values():  # the prior follows the new u
        prior, matches = _prior_by_em(settings, levels, n, blocked)
        fit.update(candidate_pairs=int(blocked[2]), expected_matches=round(float(matches)),
                   match_share=round(float(matches / blocked[2]), 6) if blocked[2] else 0.0)
        meta["em"] = fit
    meta["m_estimated_by"] = by
    return Model(prior=min(max(prior, 1e-9), 0.5), levels=levels, meta=meta)


def _patterns(con, settings: dict, table: str) -> tuple[np.ndarray, np.ndarray]:
    """The distinct comparison vectors of a scored pair table and how many pairs have each."""
    g = ", ".join(f"g_{c['name']}" for c in settings["comparisons"])
    rows = con.execute(f"SELECT {g}, count(*) FROM {table} GROUP BY ALL").fetchall()
    return (np.array([r[:-1] for r in rows], dtype=np.int64).reshape(len(rows), len(settings["comparisons"])),
            np.array([r[-1] for r in rows], dtype=np.float64))


def _arrays(settings: dict, levels: dict, key: str) -> list[np.ndarray]:
    return [np.array([levels[c["name"]][lvl["label"]][key] for lvl in c["levels"]]) for c in settings["comparisons"]]


def u_of_non_matches(con, settings: dict, levels: dict, prior: float) -> float:
    """u of every level (in place) counted over the random pairs of table `u_scored`, each weighted by
    its probability of being a non-match given its levels, m, u and the prior. Returns the matches
    the model expects among those pairs (what the first count of u took for strangers)."""
    patterns, counts = _patterns(con, settings, "u_scored")
    if not len(counts):
        return 0.0
    p = em.posterior(patterns, _arrays(settings, levels, "m"), _arrays(settings, levels, "u"), prior)
    weights = counts * (1 - p)
    smoothing = settings["training"]["smoothing"]
    for i, c in enumerate(settings["comparisons"]):
        seen = patterns[:, i] >= 0
        s = np.bincount(patterns[seen, i], weights=weights[seen], minlength=len(c["levels"])) + smoothing
        for lvl, x in zip(c["levels"], s / s.sum()):
            levels[c["name"]][lvl["label"]]["u"] = float(x)
    return float((counts * p).sum())


def _blocked_comparisons(settings: dict, rule_sql: str) -> set[str]:
    """The comparisons whose columns a blocking rule reads (a comparison's own columns are those of
    its null condition: a level may glance at another's, as names swapped do)."""
    column_of = {}
    for c in settings["comparisons"]:
        for col in set(re.findall(r"\b[lr]\.([a-z_]+)", c["null"])):
            column_of.setdefault(col, set()).add(c["name"])
    derived = {"fi": "fn", "fn3": "fn", "si": "sn", "sn3": "sn", "pi": "pn", "dob_year": "dob", "dob_sym": "dob",
               "dob_swap": "dob", "dob_imprecise": "dob", "addr_num": "addr"}
    out = set()
    for col in re.findall(r"\b[lr]\.([a-z_]+)", rule_sql):
        out |= column_of.get(derived.get(col, col), set())
    return out


def _maximise_expectation(con, settings: dict, levels: dict, seed: int) -> dict:
    """m of every level (in place in `levels`) by EM sessions over blocking rules (etl/linkage/em.py),
    each on a sample of at most `em_max_pairs` pairs; returns the sessions and `m_by`."""
    cfg = settings["training"]
    comps = settings["comparisons"]
    names = [c["name"] for c in comps]
    u = [np.array([levels[c["name"]][lvl["label"]]["u"] for lvl in c["levels"]]) for c in comps]
    m0 = [np.array([0.9] + [0.1 / (len(c["levels"]) - 1)] * (len(c["levels"]) - 1)) for c in comps]
    rules = {r["name"]: r["sql"] for r in settings["blocking_rules"]}
    g = ", ".join(f"g_{x}" for x in names)
    trained: dict[str, list[np.ndarray]] = {x: [] for x in names}
    sessions = []
    for rule in cfg["em_sessions"]:
        blocked = _blocked_comparisons(settings, rules[rule])
        free = [x not in blocked for x in names]
        con.execute(f"""CREATE OR REPLACE TEMP TABLE em_pairs AS
            SELECT l.rid AS l, r.rid AS r FROM rec l JOIN rec r ON {rules[rule]} AND l.rid < r.rid""")
        total = con.execute("SELECT count(*) FROM em_pairs").fetchone()[0]
        slices = max(1, -(-total // cfg["em_max_pairs"]))
        if slices > 1:
            con.execute(f"DELETE FROM em_pairs WHERE hash(l, r, {seed}) % {slices} <> 0")
        compare(con, settings, "em_pairs", "em_scored")
        rows = con.execute(f"SELECT {g}, count(*) FROM em_scored GROUP BY ALL").fetchall()
        if not rows:
            sessions.append({"blocking_rule": rule, "pairs": 0})
            continue
        fit = em.estimate(np.array([r[:-1] for r in rows]), np.array([r[-1] for r in rows]), m0, u, free,
                          smoothing=cfg["smoothing"])
        for x, f, m in zip(names, free, fit["m"]):
            if f:
                trained[x].append(m)
        sessions.append({"blocking_rule": rule, "pairs": int(total), "trained": [x for x, f in zip(names, free) if f],
                         "iterations": fit["iterations"], "converged": fit["converged"],
                         "match_share": round(float(fit["match_share"]), 6)})
    by = {}
    for c, m_init in zip(comps, m0):
        got = trained[c["name"]]
        m = np.mean(got, axis=0) if got else m_init
        by[c["name"]] = "em" if got else "em_untrained"
        for lvl, p in zip(c["levels"], m):
            levels[c["name"]][lvl["label"]]["m"] = float(p)
    return {"sessions": sessions, "m_by": by}


def _candidate_patterns(con, settings: dict, seed: int) -> tuple[np.ndarray, np.ndarray, int]:
    """The comparison vectors of the blocked pairs (a sample of at most `em_max_pairs`), their counts
    in the sample and the number of all blocked pairs."""
    total = candidates(con, settings)
    slices = max(1, -(-total // settings["training"]["em_max_pairs"]))
    con.execute(f"CREATE OR REPLACE TEMP TABLE em_pairs AS SELECT l, r FROM cand WHERE hash(l, r, {seed}) % {slices} = 0")
    compare(con, settings, "em_pairs", "em_scored")
    patterns, counts = _patterns(con, settings, "em_scored")
    for t in ("em_pairs", "em_scored"):  # (cand stays: the scoring of the same records reuses it)
        con.execute(f"DROP TABLE IF EXISTS {t}")
    return patterns, counts, total


def _prior_by_em(settings: dict, levels: dict, n: int, blocked: tuple) -> tuple[float, float]:
    """The prior: the expected matches among all blocked pairs (EM on the match share alone, m and u
    fixed), over all pairs of records. Returns (prior, expected matches)."""
    patterns, counts, total = blocked
    share = em.match_share(patterns, counts, _arrays(settings, levels, "m"), _arrays(settings, levels, "u")) \
        if len(counts) else 0.0
    matches = share * total
    prior = matches / (n * (n - 1) / 2) if matches and n > 1 else settings["training"]["default_prior"]
    return prior, matches
