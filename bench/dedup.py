"""Benchmark: person deduplication (`ltcreg dedup`) against Splink configured as its documentation
suggests, on the project's generator.

    python bench/dedup.py --records 100000 [--records 1000000] [--no-baseline] [--increment 10000] [--keep DIR]
                          [--snils-coverage 0.3] [--namesakes 0.02] [--bound]

--snils-coverage sets the share of records carrying SNILS (0 makes training fall back on EM);
--namesakes adds that share of persons' namesakes (same full name and birth date, another
municipality, own SNILS) and prints the calibration of the namesake rule: pairs of its pattern by
expected namesakes, and how many of them are one person. --bound prints what any scorer of our
comparison levels could reach: each candidate pair linked when most pairs of its comparison vector
are truly one person (an oracle on the truth), clustered with our guards.

For each size: generates records (not timed), runs the dedup in a child process (wall time and peak
RSS of that process alone), evaluates against the truth, then the Splink baseline the same way.
"""
from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from etl.devtools.evaluate import partition_metrics  # noqa: E402
from etl.devtools.generate_people import generate_people  # noqa: E402

CHILD = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
t = time.perf_counter()
from {module} import {func}
res = {func}({args})
wall = time.perf_counter() - t
info = res if isinstance(res, dict) else {{"timings": res.timings, "counts": res.counts}}
print(json.dumps({{"wall": wall, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, **info}}))
"""


def run_child(module: str, func: str, args: str) -> dict:
    code = CHILD.format(root=str(ROOT), module=module, func=func, args=args)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def quality(folder: Path, output: Path) -> dict:
    truth = {r["record_id"]: r["person_key"] for r in csv.DictReader(open(folder / "truth.csv", encoding="utf-8"))}
    pred = {r["record_id"]: r["register_id"] for r in csv.DictReader(open(output, encoding="utf-8"))}
    m = partition_metrics(truth, pred)
    records_of = defaultdict(list)
    for rec, person in truth.items():
        records_of[person].append(rec)
    merged, total = Counter(), Counter()
    for row in csv.DictReader(open(folder / "hard_pairs.csv", encoding="utf-8")):
        a = {pred[r] for r in records_of[row["person_a"]]}
        b = {pred[r] for r in records_of[row["person_b"]]}
        total[row["kind"]] += 1
        merged[row["kind"]] += bool(a & b)
    for kind in sorted(total):
        m[f"{kind}_merged"] = merged[kind] / total[kind]
        m[f"{kind}_pairs"] = total[kind]
    return m


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, action="append")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--keep", help="keep generated data and outputs in this folder")
    ap.add_argument("--snils-coverage", type=float, help="share of records carrying SNILS (default: per source)")
    ap.add_argument("--namesakes", type=float, default=0.0, help="share of persons given a namesake")
    ap.add_argument("--bound", action="store_true", help="also the F1 of an oracle on comparison vectors")
    ap.add_argument("--increment", type=int, default=0,
                    help="also time linking the last N records as an increment against a register of the others")
    a = ap.parse_args()
    for n in a.records or [100_000]:
        base = Path(a.keep) if a.keep else Path(tempfile.mkdtemp(prefix="ltc-dedup-"))
        folder = base / f"people-{n}-{a.snils_coverage}-{a.namesakes}"
        t = time.perf_counter()
        if not (folder / "records.csv").exists():
            print(f"generating {n} records ...", generate_people(folder, records=n, seed=a.seed,
                                                                 snils_coverage=a.snils_coverage,
                                                                 namesakes=a.namesakes),
                  f"{time.perf_counter() - t:.1f} s", flush=True)
        runs = [("ltcreg dedup", "etl.linkage.dedup", "dedup_csv", "ours.csv")]
        if not a.no_baseline:
            runs.append(("splink baseline", "etl.linkage.baseline", "run_baseline", "splink.csv"))
        for label, module, func, out_name in runs:
            out = folder / out_name
            info = run_child(module, func, f"__import__('pathlib').Path({str(folder / 'records.csv')!r}), "
                                            f"__import__('pathlib').Path({str(out)!r})")
            q = quality(folder, out)
            print(f"\n== {label}: {n} records ==")
            print(f"wall {info['wall']:.1f} s, peak RSS {info['rss_mb']:.0f} MB, timings {info.get('timings')}")
            print(f"counts {info.get('counts')}")
            for k, v in q.items():
                print(f"  {k:40} {v:.4f}" if isinstance(v, float) else f"  {k:40} {v}")
        if a.namesakes:
            calibrate_namesakes(folder)
        if a.bound:
            vector_bound(folder)
        if a.increment:
            increment(folder, a.increment)


def calibrate_namesakes(folder: Path) -> None:
    """The namesake rule's evidence in this data: every scored pair of its pattern (full name and
    birth date alike, SNILS on one side at most, municipality and address different), by decade of
    expected namesakes, with how many are truly one person; and the share the rule learnt from pairs
    with SNILS on both sides."""
    import math

    from etl.linkage import dedup as d
    from etl.linkage.model import weight_of

    con, res, person = _linked(folder)
    pairs, same = Counter(), Counter()
    for l, r, expected in d.namesake_pairs(con, res.settings, res.model, res.counts["records"], weight_of(0.5)):
        decade = math.floor(math.log10(expected)) if expected > 0 else -99
        pairs[decade] += 1
        same[decade] += person[l] == person[r]
    print(f"\n== namesake rule: learnt {res.counts['namesake_rule']}, held {res.counts['review_held']}")
    print(f"  {'expected namesakes':22} {'pairs':>7} {'one person':>10} {'share':>7}")
    for decade in sorted(pairs):
        print(f"  [1e{decade}, 1e{decade + 1}){'':8} {pairs[decade]:7} {same[decade]:10} {same[decade] / pairs[decade]:7.1%}")


def _linked(folder: Path):
    """The data of folder linked in-process: (connection, result, rid -> true person)."""
    from etl.linkage import dedup as d

    truth = {r["record_id"]: r["person_key"] for r in csv.DictReader(open(folder / "truth.csv", encoding="utf-8"))}
    con = d.connect()
    con.execute(f"CREATE TABLE raw AS SELECT * FROM {d._read_person_csv(folder / 'records.csv')}",
                [str(folder / "records.csv")])
    cols = ", ".join(f"nullif(trim({c}), '') AS {c}" for c in d.features.INPUT_COLUMNS)
    con.execute(f"CREATE VIEW linkage_input AS SELECT {cols}, rowid AS ord FROM raw")
    res = d.link(con)
    person = {rid: truth[rec] for rid, rec in con.execute("SELECT rid, record_id FROM rec").fetchall()}
    return con, res, person


def vector_bound(folder: Path) -> None:
    """F1 of the best decisions a scorer of these comparison levels could take: every candidate pair
    linked when most candidate pairs of its comparison vector are one person (known from the truth),
    strongest vectors first, clustered with the model's guards — against ours on the same pairs."""
    from etl.linkage.cluster import Clusterer
    from etl.linkage.dedup import learnt_guards

    con, res, person = _linked(folder)
    names = [c["name"] for c in res.settings["comparisons"]]
    rows = con.execute(f"SELECT l, r, w, {', '.join('g_' + n for n in names)} FROM pairs").fetchall()
    votes: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    for l, r, _, *g in rows:
        votes[tuple(g)][person[l] != person[r]] += 1
    edges = sorted(((l, r, w) for l, r, w, *g in rows if votes[tuple(g)][0] > votes[tuple(g)][1]),
                   key=lambda e: (-e[2], e[0], e[1]))
    records = con.execute("SELECT snils, fn, dob, dob_year, dob_imprecise, sex, fixed FROM rec ORDER BY rid").fetchall()
    c = Clusterer(records, learnt_guards(res.settings["guards"], res.model)[0])
    c.run(edges, float("-inf"), float("-inf"))
    truth = {str(rid): p for rid, p in person.items()}
    bound = partition_metrics(truth, {str(rid): str(x) for rid, x in enumerate(c.labels())})
    ours = partition_metrics(truth, {str(rid): str(x) for rid, x in enumerate(res.labels)})
    print(f"\n== oracle on comparison vectors ({len(votes)} vectors, {len(rows)} candidate pairs)")
    for label, m in (("ours", ours), ("bound", bound)):
        print(f"  {label:6} f1 {m['f1']:.4f}, precision {m['precision']:.4f}, recall {m['recall']:.4f}")


def increment(folder: Path, k: int) -> None:
    """The register built on all but the last k records, then the k linked to it (only that is timed)."""
    lines = (folder / "records.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    (folder / "records_old.csv").write_text("".join(lines[:len(lines) - k]), encoding="utf-8")
    p = "__import__('pathlib').Path"
    base = run_child("etl.linkage.dedup", "dedup_csv",
                     f"{p}({str(folder / 'records_old.csv')!r}), {p}({str(folder / 'old.csv')!r}), "
                     f"save_model={p}({str(folder / 'model.json')!r})")
    info = run_child("etl.linkage.dedup", "dedup_csv",
                     f"{p}({str(folder / 'records.csv')!r}), {p}({str(folder / 'inc.csv')!r}), "
                     f"model_path={p}({str(folder / 'model.json')!r}), existing={p}({str(folder / 'old.csv')!r})")
    q = quality(folder, folder / "inc.csv")
    print(f"\n== increment: {k} records against a register of {len(lines) - 1 - k} records ==")
    print(f"base build {base['wall']:.1f} s; increment wall {info['wall']:.1f} s, peak RSS {info['rss_mb']:.0f} MB, "
          f"timings {info.get('timings')}")
    print(f"  f1 {q['f1']:.4f}, precision {q['precision']:.4f}, recall {q['recall']:.4f}, "
          f"multi-record persons exact {q['multi_record_persons_recovered_exactly']:.4f}")


if __name__ == "__main__":
    main()
