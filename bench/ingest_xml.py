"""Benchmark: an ОМС register (H-file with its L-file) of a given size, streamed end to end into staging.

    python bench/ingest_xml.py --mb 1024

Generates the pair in a temporary folder (not committed), lands it in a throwaway database (DATABASE_URL's
server or the embedded one) and prints MB/s of the case file and the peak RSS: of the landing process,
and of it with its parse workers together (sampled: the largest sum seen while landing).
"""
from __future__ import annotations

import argparse
import logging
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.treerss import TreePeak  # noqa: E402
from etl.base import db  # noqa: E402
from etl.base.normalize import snils_checksum  # noqa: E402

ZAP = """<ZAP><N_ZAP>{n}</N_ZAP><PR_NOV>0</PR_NOV><PACIENT><ID_PAC>P{p}</ID_PAC><VPOLIS>3</VPOLIS>
<ENP>{enp:016d}</ENP><SMO>36001</SMO><NOVOR>0</NOVOR></PACIENT><Z_SL><IDCASE>{n}</IDCASE><USL_OK>{usl}</USL_OK>
<VIDPOM>13</VIDPOM><FOR_POM>3</FOR_POM><LPU>360001</LPU><DATE_Z_1>2024-{m:02d}-{d:02d}</DATE_Z_1>
<DATE_Z_2>2024-{m:02d}-{d2:02d}</DATE_Z_2><RSLT>314</RSLT><ISHOD>304</ISHOD><SL><SL_ID>{n}</SL_ID><LPU_1>1</LPU_1>
<PODR>12</PODR><PROFIL>16</PROFIL><DET>0</DET><P_CEL>1.0</P_CEL><NHISTORY>{n}</NHISTORY><DATE_1>2024-{m:02d}-{d:02d}</DATE_1>
<DATE_2>2024-{m:02d}-{d2:02d}</DATE_2><DS1>I63.9</DS1><C_ZAB>1</C_ZAB><PRVS>17</PRVS><VERS_SPEC>V021</VERS_SPEC>
<IDDOKT>038-077-626 70</IDDOKT><ED_COL>1.00</ED_COL><TARIF>115.09</TARIF><SUM_M>115.09</SUM_M><USL><IDSERV>{n}</IDSERV>
<LPU>360001</LPU><DATE_IN>2024-{m:02d}-{d:02d}</DATE_IN><DATE_OUT>2024-{m:02d}-{d2:02d}</DATE_OUT><DS>I63.9</DS>
<CODE_USL>601029</CODE_USL><KOL_USL>1.00</KOL_USL><TARIF>115.09</TARIF><SUMV_USL>115.09</SUMV_USL></USL></SL>
<IDSP>29</IDSP><SUMV>115.09</SUMV></Z_SL></ZAP>
"""
PERS = ("<PERS><ID_PAC>P{p}</ID_PAC><FAM>Иванова{s}</FAM><IM>Анна</IM><OT>Петровна</OT><W>2</W>"
        "<DR>19{y:02d}-0{m}-{d:02d}</DR><SNILS>{snils}</SNILS></PERS>\n")


def make_register(folder: Path, megabytes: int, persons_per_case: float = 0.5) -> tuple[Path, int]:
    h, l_file = folder / "HM360001T36_24011.xml", folder / "LM360001T36_24011.xml"
    target, n = megabytes * 1024 * 1024, 0
    with open(h, "w", encoding="cp1251") as f:
        f.write('<?xml version="1.0" encoding="windows-1251"?>\n<ZL_LIST><ZGLV><VERSION>3.2</VERSION>'
                "<DATA>2024-02-01</DATA><FILENAME>HM360001T36_24011</FILENAME><SD_Z>0</SD_Z></ZGLV>\n")
        while f.tell() < target:
            block = []
            for _ in range(1000):
                n += 1
                d = 1 + n % 27
                block.append(ZAP.format(n=n, p=int(n * persons_per_case), enp=n, usl=1 + n % 4, m=1 + n % 12, d=d,
                                        d2=d + 1))
            f.write("".join(block))
        f.write("</ZL_LIST>\n")
    with open(l_file, "w", encoding="cp1251") as f:
        f.write('<?xml version="1.0" encoding="windows-1251"?>\n<PERS_LIST><ZGLV><VERSION>3.2</VERSION>'
                "<FILENAME>LM360001T36_24011</FILENAME><FILENAME1>HM360001T36_24011</FILENAME1></ZGLV>\n")
        for p in range(int(n * persons_per_case) + 1):
            body = f"{200_000_000 + p:09d}"
            f.write(PERS.format(p=p, s=p % 997, y=30 + p % 60, m=1 + p % 9, d=1 + p % 28,
                                snils=body + snils_checksum(body)))
        f.write("</PERS_LIST>\n")
    return h, n


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")  # the loader logs its phases
    logging.getLogger("alembic").setLevel(logging.WARNING)
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=100, help="size of the case file (H) in MB")
    a = ap.parse_args()
    with db.scratch_database("ltc_bench_xml"):
        db.upgrade()
        from etl.landing import load

        with tempfile.TemporaryDirectory() as tmp:
            h, cases = make_register(Path(tmp), a.mb)
            size = h.stat().st_size + h.with_name("L" + h.name[1:]).stat().st_size
            base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            t = time.perf_counter()
            with TreePeak() as tree:
                res = load.ingest_file("health", h)
            elapsed = time.perf_counter() - t
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"ОМС register: {cases} cases, H+L {size / 1e6:.0f} MB, staged {res.staged}, quarantined "
              f"{res.quarantined} in {elapsed:.1f} s = {size / 1e6 / elapsed:.1f} MB/s; peak RSS {rss:.0f} MB "
              f"(before loading {base_rss:.0f} MB), of the largest parse worker {workers:.0f} MB, of the landing with"
              f" its workers together {tree.bytes / 2**20:.0f} MB")


if __name__ == "__main__":
    main()
