"""ОМС registers: reference case files of every kind, and an H/L pair joined on ID_PAC."""
import datetime as dt
import shutil

import pytest

from connectors import health, oms
from connectors.common import FileRejected
from tests.conftest import REFERENCE

SAMPLES = REFERENCE / "oms/ffoms-3.x/samples"

L_FILE = """<?xml version="1.0" encoding="windows-1251"?>
<PERS_LIST><ZGLV><VERSION>3.2</VERSION><DATA>2021-04-23</DATA><FILENAME>LM750096T75_21041</FILENAME>
<FILENAME1>HM750096T75_21041</FILENAME1></ZGLV>
<PERS><ID_PAC>41524</ID_PAC><FAM>Ёлкина</FAM><IM>Мария</IM><OT>Петровна</OT><W>2</W><DR>1941-02-03</DR>
<SNILS>112-233-445 95</SNILS></PERS>
</PERS_LIST>
"""


@pytest.mark.parametrize("name,cases", [("H_VALID.XML", 1), ("H_VALID_3.2.XML", 1), ("C_VALID.XML", 1),
                                        ("D_VALID.XML", 1), ("D_VALID_08_2021.XML", 1), ("T_VALID.XML", 1)])
def test_reference_case_files_without_person_file_are_kept_in_quarantine(name, cases):
    recs = list(health.parse(SAMPLES / name))
    assert len(recs) >= cases
    assert all(r.entity == "health_medical_event" and r.reason == "no_person_data" for r in recs)
    assert "ID_PAC" in recs[0].detail and recs[0].payload.startswith("<Z_SL")


def test_h_file_joined_with_its_l_file(tmp_path):
    shutil.copy(SAMPLES / "H_VALID_3.2.XML", tmp_path / "HM750096T75_21041.XML")
    (tmp_path / "LM750096T75_21041.XML").write_bytes(L_FILE.encode("cp1251"))
    recs = list(health.parse(tmp_path / "HM750096T75_21041.XML"))
    [rec] = recs
    v = rec.values
    assert (v["event_id"], v["event_type"], v["start_date"], v["icd10"], v["mo_code"], v["enp"]) == \
        ("263695", "outpatient", dt.date(2021, 4, 5), "L42", "750096", "7500000000000000")
    assert (v["surname"], v["sex"], v["birth_date"], v["snils"]) == ("Ёлкина", "F", dt.date(1941, 2, 3), "11223344595")
    # the L-file alone yields nothing: its persons are read with the case file
    assert list(health.parse(tmp_path / "LM750096T75_21041.XML")) == []


def test_l_file_found_by_filename1_when_names_differ(tmp_path):
    shutil.copy(SAMPLES / "H_VALID_3.2.XML", tmp_path / "HM_case.xml")
    (tmp_path / "L_persons.xml").write_bytes(L_FILE.encode("cp1251"))
    [rec] = list(oms.parse(tmp_path / "HM_case.xml"))
    assert rec.values["surname"] == "Ёлкина"


def test_truncated_register_is_rejected(tmp_path):
    data = (SAMPLES / "H_VALID.XML").read_bytes()
    p = tmp_path / "H_cut.xml"
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(FileRejected) as e:
        list(health.parse(p))
    assert e.value.reason == "malformed_xml"
