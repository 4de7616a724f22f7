"""Benchmark: referral CSV (cp1251, ';') end to end into staging.

    python bench/ingest.py --rows 200000

Uses DATABASE_URL's server or the embedded one, in a throwaway database (created and dropped).
Prints rows/s for parse + land (raw beside staging and quarantine, then the batch marked loaded) and the
peak RSS.
"""
from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.treerss import TreePeak  # noqa: E402
from etl.base import db  # noqa: E402
from etl.base.normalize import format_snils, snils_checksum  # noqa: E402

HEADER = ("КодМО;НомерНаправления;ДатаНаправления;КаналВыявления;СНИЛС;ЕНП;Фамилия;Имя;Отчество;Пол;"
          "ДатаРождения;Адрес;ОКТМО;Телефон;ДиагнозМКБ;СогласиеНаРазглашение;ДатаСогласия\r\n")


def make_csv(path: Path, rows: int) -> None:
    with open(path, "w", encoding="cp1251", newline="") as f:
        f.write(HEADER)
        for i in range(rows):
            body = f"{100_000_000 + i * 7:09d}"
            f.write(f"360001;B-{i};02.01.2024;диспансеризация;{format_snils(body + snils_checksum(body))};;"
                    f"Иванова{i % 997};Анна;Петровна;Ж;{1 + i % 28:02d}.0{1 + i % 9}.19{30 + i % 60};"
                    f"г. Воронеж, ул. Ленина, д. {i % 200};20701000;+79000000000;I63.9;да;01.01.2024\r\n")


def main() -> None:
    import logging
    logging.basicConfig(level=logging.INFO, format="%(message)s")  # the loader logs its phases
    logging.getLogger("alembic").setLevel(logging.WARNING)
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=200_000)
    a = ap.parse_args()
    with db.scratch_database("ltc_bench"):
        db.upgrade()
        from etl.landing import load

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "referrals.csv"
            make_csv(path, a.rows)
            size = path.stat().st_size
            t = time.perf_counter()
            with TreePeak() as tree:
                res = load.ingest_file("health", path)
            elapsed = time.perf_counter() - t
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"referral CSV: {res.read} rows ({size / 1e6:.1f} MB) staged {res.staged} in {elapsed:.2f} s "
              f"= {res.read / elapsed:,.0f} rows/s; peak RSS {rss:.0f} MB (sampled while landing {tree.bytes / 2**20:.0f} MB)")


if __name__ == "__main__":
    main()
