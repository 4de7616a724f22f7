"""Hostile and awkward inputs found by probing (issue 22, item 0), each from its repro: formulas in the
monthly XLSX, ZIP bombs in workbooks and bundles, code pages, links out of the landing folder, the same
file landed twice at once, a database connection lost in the middle of a landing."""
import datetime as dt
import hashlib
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

from connectors import common
from connectors.health import tables as health
from connectors.optima import bundle as optima
from connectors.common import FileRejected
from etl.landing import load
from etl.reporting import report
from tests.conftest import query

ROOT = Path(__file__).resolve().parents[1]
HEADER = "КодМО;НомерНаправления;ДатаНаправления;Фамилия;Имя;Отчество;ДатаРождения;Адрес"
ROW = "1;N{i};01.02.2024;Семёнова;Анна;Ильинична;13.12.1950;г. Лиски, ул. Мира, д. {i}"


# ---- the monthly XLSX ---------------------------------------------------------------------------------
def test_text_that_looks_like_a_formula_stays_text_in_the_xlsx(tmp_path):
    evil = ["=cmd|' /C calc'!A0", "+7(900)1234567", "-1+1", "@SUM(A1)", "=HYPERLINK(\"http://x\",\"y\")"]
    sheet = next(s for s in report.sheets(dt.date(2024, 2, 1)) if s.title == "Пункты проката")
    rows = [("город Воронеж", v, 1, 1, 0, 0, 1, 3) for v in evil]
    path = tmp_path / "r.xlsx"
    report.write_xlsx(path, dt.date(2024, 2, 1), [(sheet, rows)])
    xml = zipfile.ZipFile(path).read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in xml and "<f " not in xml  # no formula anywhere in the sheet
    ws = load_workbook(path)["Пункты проката"]
    cells = [ws.cell(row=3 + i, column=2) for i in range(len(evil))]
    assert [c.value for c in cells] == evil
    assert all(c.data_type == "s" and c.quotePrefix for c in cells)
    assert ws.cell(row=3, column=3).data_type == "n"  # numbers stay numbers


# ---- ZIP containers -----------------------------------------------------------------------------------
def _workbook(rows: list[list[str]]) -> bytes:
    wb = Workbook()
    for r in rows:
        wb.active.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _with_member(data: bytes, name: str, filler_mib: int) -> bytes:
    """`data` (a ZIP) with `filler_mib` MiB of one repeated byte inserted into member `name` (a bomb)."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == name:
                head, tail = body.split(b"</sheetData>")
                cell = b'<row r="9"><c r="A9" t="inlineStr"><is><t>' + b"A" * (filler_mib << 20) + b"</t></is></c></row>"
                body = head + cell + b"</sheetData>" + tail
            z.writestr(info.filename, body)
    return out.getvalue()


def _lie_about_size(data: bytes, name: str, size: int) -> bytes:
    """The ZIP with member `name`'s uncompressed size in the central directory replaced by `size`."""
    buf = bytearray(data)
    pos = buf.find(b"PK\x01\x02")
    while pos >= 0:
        n = int.from_bytes(buf[pos + 28:pos + 30], "little")
        if buf[pos + 46:pos + 46 + n] == name.encode():
            buf[pos + 24:pos + 28] = size.to_bytes(4, "little")
        pos = buf.find(b"PK\x01\x02", pos + 4)
    return bytes(buf)


SHEET = "xl/worksheets/sheet1.xml"
GOOD = [HEADER.split(";"), ROW.format(i=1).split(";")]


def test_workbook_that_unpacks_a_thousandfold_is_refused_before_it_is_read(clean_db, tmp_path):
    bomb = tmp_path / "bomb.xlsx"
    bomb.write_bytes(_with_member(_workbook(GOOD), SHEET, 64))  # 64 MiB from ≈ 64 KB
    assert bomb.stat().st_size < 1 << 20
    [res] = load.ingest("health", [bomb])
    assert (res.status, res.reason) == ("rejected", "zip_bomb")
    assert query("SELECT count(*) FROM raw.record") == [(0,)]


def test_workbook_members_and_whole_have_size_limits(tmp_path, monkeypatch):
    path = tmp_path / "big.xlsx"
    path.write_bytes(_workbook(GOOD + [[f"x{i}"] * 8 for i in range(2000)]))
    health.open_table(path)  # within every limit
    monkeypatch.setattr(common, "ZIP_MAX_MEMBER_BYTES", 20_000)
    with pytest.raises(FileRejected) as e:
        health.open_table(path)
    assert e.value.reason == "zip_too_large" and "a member" in e.value.detail
    monkeypatch.setattr(common, "ZIP_MAX_MEMBER_BYTES", 1 << 30)
    monkeypatch.setattr(common, "ZIP_MAX_TOTAL_BYTES", 50_000)
    with pytest.raises(FileRejected) as e:
        health.open_table(path)
    assert e.value.reason == "zip_too_large" and "in all" in e.value.detail


def test_workbook_whose_sheet_lies_about_its_size_is_rejected_not_a_traceback(clean_db, tmp_path):
    data = _workbook(GOOD + [ROW.format(i=i).split(";") for i in range(2, 400)])
    liar = tmp_path / "liar.xlsx"
    liar.write_bytes(_lie_about_size(data, SHEET, 3000))  # the sheet stops after 3000 bytes
    [res] = load.ingest("health", [liar])
    assert (res.status, res.reason) == ("rejected", "bad_xlsx")
    assert query("SELECT count(*) FROM staging.health_referral") == [(0,)]


def _bundle(path: Path, files: dict[str, bytes]) -> Path:
    manifest = {"export_id": "BOMB-1", "files": [
        {"name": n, "rows": None, "sha256": hashlib.sha256(b).hexdigest()} for n, b in files.items()]}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("manifest.json", json.dumps(manifest))
        for n, b in files.items():
            z.writestr(n, b)
    return path


def test_optima_bundle_bomb_is_refused_before_it_is_read(tmp_path):
    rows = ("recipient_id,surname,first_name,birth_date,status\nR1," + "A" * (8 << 20)
            + ",Анна,1950-01-01,identified\n").encode()
    path = _bundle(tmp_path / "b.zip", {"recipients.csv": rows})
    with pytest.raises(FileRejected) as e:
        list(optima.parse(path))
    assert e.value.reason == "zip_bomb"


# ---- code pages ---------------------------------------------------------------------------------------
def _rows(n: int, extra: str = "") -> str:
    return HEADER + "\r\n" + "".join(ROW.format(i=i) + extra + "\r\n" for i in range(n))


def test_cp1251_file_with_a_long_latin_field_is_read(clean_db, tmp_path):
    # the first 20 000 characters held a Latin address: the file was rejected whole as bad_encoding
    latin = ";" + "Lenina street, building 5, " * 1000
    text = HEADER + ";Примечание\r\n" + ROW.format(i=0) + latin + "\r\n" + ROW.format(i=1) + ";\r\n"
    path = tmp_path / "latin.csv"
    path.write_bytes(text.encode("cp1251"))
    [res] = load.ingest("health", [path])
    assert (res.status, res.staged) == ("loaded", 2)
    assert query("SELECT surname FROM staging.health_referral ORDER BY locator") == [("Семёнова",), ("Семёнова",)]


def test_koi8_r_file_is_read_as_koi8_r(clean_db, tmp_path):
    path = tmp_path / "koi8.csv"
    path.write_bytes(_rows(3).encode("koi8_r"))
    [res] = load.ingest("health", [path])
    assert (res.status, res.staged) == ("loaded", 3)  # was rejected as missing_columns
    assert set(query("SELECT surname, first_name, address FROM staging.health_referral")) >= {
        ("Семёнова", "Анна", "г. Лиски, ул. Мира, д. 1")}


@pytest.mark.parametrize("encoding", ["cp1251", "koi8_r"])
def test_upper_case_text_is_read_in_its_own_code_page(tmp_path, encoding):
    path = tmp_path / "caps.csv"
    path.write_bytes(_rows(20).upper().encode(encoding))
    assert health.open_table(path).direct["encoding"] == encoding


def test_latin1_is_not_taken_for_a_russian_code_page(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes(("mo_code;referral_id;referral_date;surname;first_name;birth_date\r\n"
                      + "".join(f"1;N{i};2024-02-01;Müller-Lüdenscheidt;Hélène;1950-01-01\r\n" for i in range(50))
                      ).encode("latin-1"))
    with pytest.raises(FileRejected) as e:
        health.open_table(path)
    assert e.value.reason == "bad_encoding"


# ---- the landing folder -------------------------------------------------------------------------------
def test_links_out_of_the_landing_folder_are_not_followed(clean_db, tmp_path):
    outside = tmp_path / "secret.csv"
    outside.write_bytes(_rows(2).encode("cp1251"))
    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / "inside.csv").write_bytes(_rows(1).encode("cp1251"))
    (landing / "out.csv").symlink_to(outside)
    (landing / "passwd.csv").symlink_to("/etc/passwd")
    (landing / "alias.csv").symlink_to(landing / "inside.csv")  # a link inside the folder is a file of it
    results = {Path(r.path).name: r for r in load.ingest("health", [landing])}
    assert {n: (r.status, r.reason) for n, r in results.items()} == {
        "alias.csv": ("loaded", None), "inside.csv": ("skipped", None),
        "out.csv": ("rejected", "outside_landing"), "passwd.csv": ("rejected", "outside_landing")}
    assert query("SELECT count(*) FROM raw.record") == [(1,)]
    assert query("SELECT file_name, reject_reason LIKE 'outside_landing:%' FROM audit.load_batch "
                 "WHERE status = 'rejected' ORDER BY 1") == [("out.csv", True), ("passwd.csv", True)]


# ---- processes at once, connections lost ----------------------------------------------------------------
def _ltcreg(*args, env=None, **kw):
    return subprocess.Popen([sys.executable, "-m", "etl.cli", *args], cwd=ROOT, env={**os.environ, **(env or {})},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def test_the_same_file_landed_twice_at_once_lands_once(clean_db, tmp_path):
    path = tmp_path / "twice.csv"
    path.write_bytes(_rows(20000).encode("cp1251"))
    procs = [_ltcreg("ingest", "health", str(path)) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    statuses = sorted(line.split()[1] for out, _ in outs for line in out.splitlines() if line.startswith("twice"))
    assert statuses == ["loaded", "skipped"]
    assert query("SELECT count(*), count(DISTINCT locator) FROM staging.health_referral") == [(20000, 20000)]
    assert query("SELECT status, count(*) FROM audit.load_batch GROUP BY 1") == [("loaded", 1)]


def test_an_unreachable_database_is_said_plainly(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(_rows(1).encode("cp1251"))
    p = _ltcreg("ingest", "health", str(path), env={"DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"})
    out, err = p.communicate(timeout=60)
    assert p.returncode == 3, err
    assert "Traceback" not in err and "could not be reached or the connection was lost" in err


def test_a_connection_lost_mid_landing_keeps_nothing_and_the_rerun_lands_it(clean_db, tmp_path):
    import time

    path = tmp_path / "big.csv"
    path.write_bytes(_rows(300000).encode("cp1251"))
    p = _ltcreg("ingest", "health", str(path))
    deadline = time.time() + 120
    killed = False
    while time.time() < deadline and not killed and p.poll() is None:
        # the landing's own backend, once it is writing rows
        rows = query("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
                     " AND query ILIKE 'COPY%'")
        if rows:
            killed = query("SELECT bool_and(pg_terminate_backend(pid)) FROM unnest(%s::int[]) pid",
                           ([r[0] for r in rows],))[0][0]
        time.sleep(0.05)
    out, err = p.communicate(timeout=120)
    assert killed, "the landing finished before its connection could be cut"
    assert p.returncode == 3 and "Traceback" not in err and "run the command again" in err, err
    assert query("SELECT count(*) FROM staging.health_referral") == [(0,)]
    assert query("SELECT count(*) FROM raw.record") == [(0,)]
    assert query("SELECT count(*) FROM audit.load_batch WHERE status = 'loaded'") == [(0,)]
    p = _ltcreg("ingest", "health", str(path))
    out, err = p.communicate(timeout=300)
    assert p.returncode == 0, err
    assert query("SELECT count(*) FROM staging.health_referral") == [(300000,)]
