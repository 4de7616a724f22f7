"""ОМС registers: reference case files of every kind, and an H/L pair joined on ID_PAC."""
import datetime as dt
import shutil

import pytest

from connectors.health import oms
from connectors.common import FileRejected
from etl.landing import load
from tests.conftest import REFERENCE, query

SAMPLES = REFERENCE / "oms/ffoms-3.x/samples"

L_FILE = """<?xml version="1.0" encoding="windows-1251"?>
<PERS_LIST><ZGLV><VERSION>3.2</VERSION><DATA>2021-04-23</DATA><FILENAME>LM750096T75_21041</FILENAME>
<FILENAME1>HM750096T75_21041</FILENAME1></ZGLV>
<PERS><ID_PAC>41524</ID_PAC><FAM>Ёлкина</FAM><IM>Мария</IM><OT>Петровна</OT><W>2</W><DR>1941-02-03</DR>
<SNILS>112-233-445 95</SNILS></PERS>
</PERS_LIST>
"""


EVENT = ["event_id", "event_type", "start_date", "icd10", "mo_code", "enp", "surname", "sex", "birth_date", "snils",
         "locator"]


def events():
    return [dict(zip(EVENT, r)) for r in query(f"SELECT {', '.join(EVENT)} FROM staging.health_medical_event ORDER BY stg_id")]


@pytest.mark.reference
@pytest.mark.parametrize("name,cases", [("H_VALID.XML", 1), ("H_VALID_3.2.XML", 1), ("C_VALID.XML", 1),
                                        ("D_VALID.XML", 1), ("D_VALID_08_2021.XML", 1), ("T_VALID.XML", 1)])
def test_reference_case_files_without_person_file_are_kept_in_quarantine(clean_db, name, cases):
    [res] = load.ingest("health", [SAMPLES / name])
    assert res.status == "loaded" and res.read >= cases and res.quarantined == res.read
    rows = query("SELECT entity, reason_code, detail, payload FROM quarantine.record ORDER BY quarantine_id")
    assert all(r[0] == "health_medical_event" and r[1] == "no_person_data" for r in rows)
    assert "ID_PAC" in rows[0][2] and "no L-file" in rows[0][2] and rows[0][3].startswith("<Z_SL")
    # raw keeps each case, its diagnoses taken out (the register carries no consent), hashed as read
    assert query("SELECT count(*) FROM raw.record WHERE payload LIKE '<Z_SL%%' AND payload !~ '<DS[0-9]'"
                 " AND content_hash ~ '^[0-9a-f]{64}$'")[0][0] == res.read
    assert query("SELECT count(*) FROM quarantine.record WHERE payload ~ '<DS[0-9]'") == [(0,)]


@pytest.mark.reference
def test_h_file_joined_with_its_l_file(clean_db, tmp_path):
    shutil.copy(SAMPLES / "H_VALID_3.2.XML", tmp_path / "HM750096T75_21041.XML")
    (tmp_path / "LM750096T75_21041.XML").write_bytes(L_FILE.encode("cp1251"))
    [res] = load.ingest("health", [tmp_path / "HM750096T75_21041.XML"])
    assert (res.read, res.staged) == (1, 1)
    [v] = events()
    # the register carries no consent: its diagnosis (L42) is not kept
    assert (v["event_id"], v["event_type"], v["start_date"], v["icd10"], v["mo_code"], v["enp"]) == \
        ("263695", "outpatient", dt.date(2021, 4, 5), None, "750096", "7500000000000000")
    assert (v["surname"], v["sex"], v["birth_date"], v["snils"]) == ("Ёлкина", "F", dt.date(1941, 2, 3), "11223344595")
    assert v["locator"] == "HM750096T75_21041/263695"
    # the L-file alone yields nothing: its persons are read with the case file
    [res] = load.ingest("health", [tmp_path / "LM750096T75_21041.XML"])
    assert (res.status, res.read) == ("loaded", 0)


@pytest.mark.reference
def test_l_file_found_by_filename1_when_names_differ(clean_db, tmp_path):
    shutil.copy(SAMPLES / "H_VALID_3.2.XML", tmp_path / "HM_case.xml")
    (tmp_path / "L_persons.xml").write_bytes(L_FILE.encode("cp1251"))
    load.ingest("health", [tmp_path / "HM_case.xml"])
    assert [v["surname"] for v in events()] == ["Ёлкина"]


REGISTER = """<?xml version="1.0" encoding="windows-1251"?>
<ZL_LIST><ZGLV><VERSION>3.2</VERSION><FILENAME>HM1</FILENAME></ZGLV>
{zaps}</ZL_LIST>"""
ZAP = ("<ZAP><N_ZAP>{n}</N_ZAP><PACIENT><ID_PAC>{pac}</ID_PAC><ENP>{n:016d}</ENP></PACIENT><Z_SL><IDCASE>{case}</IDCASE>"
       "<USL_OK>{usl}</USL_OK><LPU>360001</LPU><DATE_Z_1>{d1}</DATE_Z_1><DATE_Z_2>2024-01-09</DATE_Z_2>"
       "<SL><DS1>I10</DS1></SL></Z_SL></ZAP>\n")
PERSONS = """<?xml version="1.0" encoding="windows-1251"?>
<PERS_LIST><ZGLV><VERSION>3.2</VERSION><FILENAME>LM1</FILENAME><FILENAME1>HM1</FILENAME1></ZGLV>
<PERS><ID_PAC>1</ID_PAC><FAM>Old</FAM><IM>Иван</IM><W>1</W><DR>1940-01-01</DR></PERS>
<PERS><ID_PAC>1</ID_PAC><FAM>Иванов</FAM><IM>Иван</IM><OT>Петрович</OT><W>1</W><DR>1940-01-01</DR></PERS>
<PERS><ID_PAC>2</ID_PAC><FAM>Петрова</FAM><IM>Анна</IM><W>9</W><DR>1940-13-01</DR></PERS>
</PERS_LIST>"""


@pytest.fixture(params=["one pass", "in parts"])
def parse_mode(request, monkeypatch):
    """Registers parsed in one pass, or cut into parts for worker processes however small they are."""
    if request.param == "in parts":
        monkeypatch.setattr(oms, "PARALLEL_MIN_BYTES", 0)
        monkeypatch.setattr(oms, "WORKERS", 3)
    return request.param


def test_register_cases_each_staged_or_quarantined_with_reason(clean_db, tmp_path, parse_mode):
    zaps = [dict(n=1, pac=1, case=10, usl=1, d1="2024-01-05"),   # staged: hospitalisation
            dict(n=2, pac=1, case=10, usl=4, d1="2024-01-06"),   # same case id again: kept as 10#2
            dict(n=3, pac=1, case=11, usl=7, d1="2024-01-06"),   # USL_OK 7: unknown_code
            dict(n=4, pac=2, case=12, usl=3, d1="2024-01-06"),   # person's birth date bad: bad_date
            dict(n=5, pac=3, case=13, usl=3, d1="2024-01-06"),   # ID_PAC 3 not in the L-file
            dict(n=6, pac=1, case=14, usl=2, d1="05.01.2024"),   # a dd.mm.yyyy date is still a date
            dict(n=7, pac=1, case=15, usl=3, d1="")]             # no start date: missing_required
    (tmp_path / "HM1.xml").write_bytes(REGISTER.format(zaps="".join(ZAP.format(**z) for z in zaps)).encode("cp1251"))
    (tmp_path / "LM1.xml").write_bytes(PERSONS.encode("cp1251"))
    [res] = load.ingest("health", [tmp_path / "HM1.xml"])
    assert (res.read, res.staged, res.quarantined) == (7, 3, 4)
    got = events()
    assert [(v["locator"], v["event_type"], v["surname"]) for v in got] == [
        ("HM1/10", "hospitalisation", "Иванов"), ("HM1/10#2", "ambulance", "Иванов"),
        ("HM1/14", "day_hospital", "Иванов")]  # the later of two PERS entries for one ID_PAC
    assert got[2]["start_date"] == dt.date(2024, 1, 5) and got[0]["sex"] == "M"
    assert query("SELECT locator, reason_code FROM quarantine.record ORDER BY locator") == [
        ("HM1/11", "unknown_code"), ("HM1/12", "bad_date"), ("HM1/13", "no_person_data"),
        ("HM1/15", "missing_required")]
    # raw keeps every case under the locator it was staged or quarantined with, its diagnoses taken out
    # (medical secrecy: an ОМС register carries no consent), hashed as it was read
    assert query("SELECT locator FROM raw.record WHERE payload LIKE '<Z_SL>%%<SL/></Z_SL>%%'"
                 " AND payload NOT LIKE '%%I10%%' AND content_hash = encode(sha256(convert_to("
                 "replace(payload, '<SL/>', '<SL><DS1>I10</DS1></SL>'), 'UTF8')), 'hex') ORDER BY locator") == [
        (loc,) for loc in sorted(["HM1/10", "HM1/10#2", "HM1/11", "HM1/12", "HM1/13", "HM1/14", "HM1/15"])]
    assert query("SELECT count(*) FILTER (WHERE icd10 IS NULL AND diagnosis_withheld), count(*)"
                 " FROM staging.health_medical_event") == [(3, 3)]
    assert query("SELECT count(*) FROM quarantine.record WHERE payload LIKE '%%I10%%'") == [(0,)]
    # the same register again (another file name, same cases): every case is a duplicate of the first load
    (tmp_path / "again").mkdir()
    shutil.copy(tmp_path / "LM1.xml", tmp_path / "again" / "LM1.xml")
    (tmp_path / "again" / "HM1.xml").write_bytes((tmp_path / "HM1.xml").read_bytes() + b"\n")
    [res2] = load.ingest("health", [tmp_path / "again" / "HM1.xml"])
    assert (res2.read, res2.staged) == (7, 0)
    assert query("SELECT count(*) FROM quarantine.record WHERE reason_code = 'duplicate_record'")[0][0] == 3


@pytest.mark.reference
def test_truncated_register_is_rejected(clean_db, tmp_path):
    data = (SAMPLES / "H_VALID.XML").read_bytes()
    p = tmp_path / "H_cut.xml"
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(FileRejected) as e:
        oms.extract(p, tmp_path)
    assert e.value.reason == "malformed_xml"
    [res] = load.ingest("health", [p])
    assert (res.status, res.reason) == ("rejected", "malformed_xml")
    assert query("SELECT count(*) FROM raw.record")[0][0] == 0


def _rows(ex: oms.Extract) -> list[list[str]]:
    """The extracted case rows in seq order, without seq (numbered per part when cut)."""
    import csv

    csv.field_size_limit(1 << 24)
    rows = [r for p in ex.cases for r in csv.reader(open(p, encoding="utf-8"))]
    assert [int(r[0]) for r in rows] == sorted(int(r[0]) for r in rows)  # file order kept across parts
    return [r[1:] for r in rows]


def _register(tmp_path, name: str, inside: str = "", encoding: str = "cp1251") -> object:
    zaps = "".join(ZAP.format(n=n, pac=1 + n % 2, case=100 + n, usl=1 + n % 4, d1="2024-01-05")
                   .replace("</ZAP>", inside + "</ZAP>") for n in range(1, 61))
    path = tmp_path / name
    path.write_bytes(REGISTER.replace("windows-1251", encoding).format(zaps=zaps).encode(encoding))
    return path


@pytest.mark.parametrize("inside,cut", [
    ("", True),                                    # cut after ZAP end tags: parts
    ("<!-- </ZAP> -->", False),                    # an end tag in a comment: the part before it does not parse
    ("<NOTE><![CDATA[ </ZAP> ]]></NOTE>", False),  # ... in CDATA
    ("<?note </ZAP> ?>", False),                   # ... in a processing instruction
])
def test_a_register_cut_into_parts_gives_the_rows_of_one_pass(tmp_path, monkeypatch, inside, cut):
    path = _register(tmp_path, "HM1.xml", inside)
    (tmp_path / "one").mkdir()
    one = oms.extract(path, tmp_path / "one")
    monkeypatch.setattr(oms, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(oms, "WORKERS", 3)
    (tmp_path / "parts").mkdir()
    parts = oms.extract(path, tmp_path / "parts")
    assert len(parts.cases) == (3 if cut else 1)
    assert parts.n_cases == one.n_cases == 60
    assert _rows(parts) == _rows(one)


def test_a_register_not_cut_by_bytes_is_read_in_one_pass(tmp_path, monkeypatch):
    monkeypatch.setattr(oms, "PARALLEL_MIN_BYTES", 0)
    path = _register(tmp_path, "HM1.xml", encoding="utf-16")  # not ASCII-compatible: no byte cuts
    ex = oms.extract(path, tmp_path)
    assert (len(ex.cases), ex.n_cases) == (1, 60)
    assert _rows(ex)[0][:4] == ["HM1/101", "2", "0000000000000001", "101"]


def test_a_truncated_register_in_parts_is_rejected(clean_db, tmp_path, monkeypatch):
    monkeypatch.setattr(oms, "PARALLEL_MIN_BYTES", 0)
    path = _register(tmp_path, "HM1.xml")
    path.write_bytes(path.read_bytes()[:-200])
    with pytest.raises(FileRejected) as e:
        oms.extract(path, tmp_path)
    assert e.value.reason == "malformed_xml" and "line" in str(e.value)  # the one-pass parser's message
    [res] = load.ingest("health", [path])
    assert (res.status, res.reason) == ("rejected", "malformed_xml")
    assert query("SELECT count(*) FROM raw.record")[0][0] == 0


def _extract_in_daemon(path, folder, results) -> None:
    oms.PARALLEL_MIN_BYTES = 0
    ex = oms.extract(path, folder)
    results.put((len(ex.cases), ex.n_cases, _rows(ex)))


def test_a_daemonic_process_parses_in_parts_too(tmp_path):
    """A Celery pool's processes are daemonic and may not have multiprocessing children: the parse
    workers are programs of their own, so the register is still parsed in parts there."""
    import multiprocessing

    path = _register(tmp_path, "HM1.xml")
    (tmp_path / "one").mkdir()
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    proc = ctx.Process(target=_extract_in_daemon, args=(path, tmp_path / "one", results), daemon=True)
    proc.start()
    n_files, n_cases, rows = results.get(timeout=60)
    proc.join(60)
    assert (n_files, n_cases) == (oms.WORKERS, 60) and proc.exitcode == 0
    (tmp_path / "two").mkdir()
    assert rows == _rows(oms.extract(path, tmp_path / "two"))


def test_a_register_whose_workers_cannot_start_is_read_in_one_pass(tmp_path, monkeypatch):
    """A FILENAME too long for a command line (hostile or broken): no workers, the same rows."""
    path = _register(tmp_path, "HM1.xml")
    path.write_bytes(path.read_bytes().replace(b"<FILENAME>HM1</FILENAME>", b"<FILENAME>" + b"H" * 200_000 + b"</FILENAME>"))
    (tmp_path / "one").mkdir()
    one = oms.extract(path, tmp_path / "one")
    monkeypatch.setattr(oms, "PARALLEL_MIN_BYTES", 0)
    (tmp_path / "parts").mkdir()
    parts = oms.extract(path, tmp_path / "parts")
    assert len(parts.cases) == 1 and _rows(parts) == _rows(one) and parts.n_cases == 60
