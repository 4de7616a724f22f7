import datetime as dt
import hashlib
import io
import json
import zipfile

import pytest

from connectors.health import tables as health
from connectors.optima import bundle as optima
from connectors.smev import messages as smev
from connectors.common import FileRejected
from tests.conftest import REFERENCE

@pytest.mark.reference
def test_smev_reference_death_registry_in_envelope():
    path = REFERENCE / "smev3/samples/zags-fataloiv/GetRequestResponse-zagsFatalOivProducerRequest.xml"
    [rec] = list(smev.parse(path))
    v = rec.values
    assert rec.entity == "smev_death" and rec.locator.startswith("56bd4c72-53d4-11ea-8d77-2e728ce88125/")
    assert (v["surname"], v["first_name"], v["patronymic"]) == ("Иванов", "Иван", "Иванович")
    assert v["birth_date"] == dt.date(1950, 12, 13) and v["death_date"] == dt.date(2018, 12, 14)
    assert v["sex"] == "M" and v["snils"] is None


@pytest.mark.reference
def test_smev_reference_partial_birth_date():
    recs = list(smev.parse(REFERENCE / "smev3/samples/zags-fataloiv/smevRequest_4.xml"))
    assert [(r.values["surname"], r.values["birth_date"], r.values["birth_date_precision"]) for r in recs] == [
        ("Иванов", dt.date(1950, 12, 13), "day"),
        ("Иванова", dt.date(1912, 1, 1), "year"),  # ДатаРождДок with ПрДень and ПрМесяц: only the year is known
    ]


@pytest.mark.reference
@pytest.mark.parametrize("name,expected", [
    ("envelopes-1.2/SoapFaultResponse.xml", ["soap_fault"]),
    ("envelopes-1.2/GetResponseResponce_EmptyQueue.xml", []),
    ("envelopes-1.1/GetResponseResponse-empty.xml", []),
    ("envelopes-1.2/GetResponseResponse_ValidResponse.xml", ["unknown_payload"]),
    ("envelopes-1.2/GetResponseResponce_MultipartEmptyQueue.xml", []),  # MTOM multipart/related
    ("envelopes-1.2/GetResponseResponce_InvalidContent.xml", ["smev_status"]),
    ("envelopes-1.2/SoapFaultResponse_SignatureVerificationFault.xml", ["soap_fault"]),
    ("envelopes-1.1/SendResponseRequest-ToSmev.xml", ["unknown_payload"]),
])
def test_smev_reference_envelopes(name, expected):
    recs = list(smev.parse(REFERENCE / "smev3/samples" / name))
    assert [r.reason for r in recs] == expected


def test_smev_rejects_xxe_and_billion_laughs(tmp_path):
    xxe = tmp_path / "xxe.xml"
    xxe.write_text('<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>')
    laughs = tmp_path / "lol.xml"
    laughs.write_text('<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]><l>&b;</l>')
    for p in (xxe, laughs):
        with pytest.raises(FileRejected) as e:
            list(smev.parse(p))
        assert e.value.reason == "dtd_forbidden"
    truncated = tmp_path / "t.xml"
    truncated.write_text('<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body>')
    with pytest.raises(FileRejected) as e:
        list(smev.parse(truncated))
    assert e.value.reason == "malformed_xml"


def test_smev_generated_application(region):
    out, counts = region
    recs = [r for p in sorted((out / "smev").glob("application_*.xml")) for r in smev.parse(p)]
    assert len(recs) == counts["smev_application"]
    v = recs[0].values
    assert v["order_uuid"] and v["birth_date"] and v["oktmo"] and len(v["oktmo"]) == 8


def _bundle(tmp_path, files: dict[str, str], tamper: str | None = None):
    manifest = {"export_id": "T-1", "files": [
        {"name": n, "rows": len(t.strip().splitlines()) - 1, "sha256": hashlib.sha256(t.encode()).hexdigest()}
        for n, t in files.items()]}
    p = tmp_path / "b.zip"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("manifest.json", json.dumps(manifest))
        for n, t in files.items():
            z.writestr(n, t + (tamper if tamper and n == "supplements.csv" else ""))
    return p


SUP = ("supplement_id,recipient_id,assessment_id,care_level,minutes_per_week,provider_id,start_date,end_date\n"
       "S1,R1,A1,2,1200,P1,2024-02-01,\nS2,R1,A1,4,100,P1,2024-02-01,\n")


def test_optima_bundle_parses_and_hard_validates(tmp_path):
    recs = list(optima.parse(_bundle(tmp_path, {"supplements.csv": SUP})))
    assert recs[0].values["minutes_per_week"] == 1200 and recs[0].values["export_id"] == "T-1"
    assert recs[1].reason == "bad_care_level"


def test_optima_bundle_with_wrong_checksum_is_rejected_whole(tmp_path):
    with pytest.raises(FileRejected) as e:
        list(optima.parse(_bundle(tmp_path, {"supplements.csv": SUP}, tamper="S3,R2,A2,1,60,P1,2024-03-01,\n")))
    assert e.value.reason == "checksum_mismatch"


def test_optima_not_a_zip(tmp_path):
    p = tmp_path / "x.zip"
    p.write_bytes(b"not a zip")
    with pytest.raises(FileRejected) as e:
        list(optima.parse(p))
    assert e.value.reason == "not_a_bundle"


def test_smev_mtom_with_payload(tmp_path):
    from etl.devtools.generate import smev_envelope

    envelope = smev_envelope("1.2", "m-1", "2025-01-01T00:00:00+03:00", "X", (
        '<ns1:Request xmlns:ns1="urn://x-artefacts-zags-fataloiv/root/112-41/4.0.0" '
        'xmlns:ns2="urn://x-artefacts-zags-fataloiv/types/4.0.0"><ns1:FATALOIVRequest ДатаСвед="2025-01-01" ИдСвед="a">'
        '<ns1:СведРегСмертОИВ НомерЗапис="77"><ns1:ПрдСведРег><ns1:СведУмер Пол="2"><ns1:ФИОУмер>'
        '<ns2:Фамилия>Орлова</ns2:Фамилия><ns2:Имя>Вера</ns2:Имя></ns1:ФИОУмер>'
        '<ns1:ДатаРождКаленд>1930-03-03</ns1:ДатаРождКаленд><ns1:ДатаСмертКаленд>2024-12-30</ns1:ДатаСмертКаленд>'
        '</ns1:СведУмер></ns1:ПрдСведРег></ns1:СведРегСмертОИВ></ns1:FATALOIVRequest></ns1:Request>'))
    body = ("--b1\r\nContent-Type: application/xop+xml; charset=UTF-8; type=\"text/xml\"\r\n"
            "Content-ID: <root@x>\r\n\r\n" + envelope + "\r\n--b1\r\nContent-Type: application/octet-stream\r\n"
            "Content-ID: <att1@x>\r\n\r\nBINARY\r\n--b1--\r\n")
    p = tmp_path / "mtom.xml"
    p.write_bytes(body.encode("utf-8"))
    [rec] = list(smev.parse(p))
    assert (rec.values["surname"], rec.values["sex"], rec.values["death_date"]) == ("Орлова", "F", dt.date(2024, 12, 30))
