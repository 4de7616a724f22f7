"""Every published sample under ../shared/reference of the formats we accept, through the real loader:
each ends staged with the right values, or quarantined / rejected with its stated reason. A sample
added to the reference folder without an expectation here fails the test (nothing is skipped)."""
from pathlib import Path

import pytest

from etl.landing import load
from tests.conftest import REFERENCE, query

pytestmark = pytest.mark.reference

# path → (source, file status, staged, quarantined, reasons of the quarantined records or of the rejection)
EXPECTED = {
    "smev3/samples/envelopes-1.1/AckResponse.xml": ("smev", "loaded", 0, 0, set()),
    "smev3/samples/envelopes-1.1/GetResponseResponse-empty.xml": ("smev", "loaded", 0, 0, set()),
    "smev3/samples/envelopes-1.1/SendRequestResponse.xml": ("smev", "loaded", 0, 0, set()),
    "smev3/samples/envelopes-1.1/SendResponseRequest-ToSmev.xml": ("smev", "loaded", 0, 1, {"unknown_payload"}),
    "smev3/samples/envelopes-1.2/GetResponseResponce_EmptyQueue.xml": ("smev", "loaded", 0, 0, set()),
    "smev3/samples/envelopes-1.2/GetResponseResponce_InvalidContent.xml": ("smev", "loaded", 0, 1, {"smev_status"}),
    "smev3/samples/envelopes-1.2/GetResponseResponce_MultipartEmptyQueue.xml": ("smev", "loaded", 0, 0, set()),
    "smev3/samples/envelopes-1.2/GetResponseResponse_ValidResponse.xml": ("smev", "loaded", 0, 1, {"unknown_payload"}),
    "smev3/samples/envelopes-1.2/SendRequestResponce.xml": ("smev", "loaded", 0, 0, set()),
    "smev3/samples/envelopes-1.2/SoapFaultResponse.xml": ("smev", "loaded", 0, 1, {"soap_fault"}),
    "smev3/samples/envelopes-1.2/SoapFaultResponse_SignatureVerificationFault.xml":
        ("smev", "loaded", 0, 1, {"soap_fault"}),
    "smev3/samples/zags-fataloiv/GetRequestResponse-zagsFatalOivProducerRequest.xml": ("smev", "loaded", 1, 0, set()),
    "smev3/samples/zags-fataloiv/Request0.xml": ("smev", "loaded", 1, 0, set()),
    "smev3/samples/zags-fataloiv/smevRequest1.xml": ("smev", "loaded", 1, 0, set()),
    "smev3/samples/zags-fataloiv/smevRequest_4.xml": ("smev", "loaded", 2, 0, set()),
    # ЕГИССО: the ФРИ extract and two death formats are ours; the rest are other services' payloads,
    # kept whole in quarantine as unknown_payload
    "egisso/schema/samples/gisfri/attachment/RequestExtract.xml": ("smev", "loaded", 1, 0, set()),
    "egisso/schema/samples/zags/death/v2019_08_22/request.xml": ("smev", "loaded", 1, 0, set()),
    "egisso/schema/samples/zags/fatal.v4_0_6/request.xml": ("smev", "loaded", 1, 0, set()),
    "egisso/schema/samples/gisfri/initiative-distribution-1.0.2.xml": ("smev", "loaded", 0, 1, {"unknown_payload"}),
    "egisso/schema/samples/kvs/validSnilsRequest.xml": ("smev", "loaded", 0, 1, {"unknown_payload"}),
    **{f"egisso/schema/samples/10.13.I-2.0.0.{kind}.{n}.xml": ("smev", "loaded", 0, 1, {"unknown_payload"})
       for kind in ("request", "response") for n in range(4)},
    # ОМС 3.x case files without their L-file: every case kept, quarantined for want of the person
    **{f"oms/ffoms-3.x/samples/{name}": ("health", "loaded", 0, None, {"no_person_data"})
       for name in ("C_VALID.XML", "D_VALID.XML", "D_VALID_08_2021.XML", "H_VALID.XML", "H_VALID_3.2.XML",
                    "T_VALID.XML")},
    # a territorial fund's own 1.6 layout: rejected as a whole, clearly
    "oms/samara-tfoms-1.6/C8BAFCEC-B253-4784-A4FA-AE8632F05501.xml": ("health", "rejected", 0, 0,
                                                                      {"unsupported_version"}),
}
SAMPLE_DIRS = ["smev3/samples", "egisso/schema/samples", "oms/ffoms-3.x/samples", "oms/samara-tfoms-1.6"]


def found_samples() -> set[str]:
    return {str(p.relative_to(REFERENCE)) for d in SAMPLE_DIRS for p in (REFERENCE / d).rglob("*")
            if p.is_file() and p.suffix.lower() == ".xml"}


def test_every_reference_sample_has_an_expectation():
    assert REFERENCE.is_dir(), f"reference samples not found at {REFERENCE} (set LTC_REFERENCE)"
    assert found_samples() == set(EXPECTED)


@pytest.mark.parametrize("rel", sorted(EXPECTED))
def test_reference_sample_outcome(clean_db, rel):
    source, status, staged, quarantined, reasons = EXPECTED[rel]
    [res] = load.ingest(source, [REFERENCE / rel])
    assert res.status == status, (res.reason, res.detail)
    if status == "rejected":
        assert res.reason in reasons and res.detail
        assert query("SELECT count(*) FROM raw.record")[0][0] == 0
        return
    assert res.staged == staged
    if quarantined is not None:
        assert res.quarantined == quarantined
    assert res.read == res.staged + res.quarantined
    got = {r[0] for r in query("SELECT DISTINCT reason_code FROM quarantine.record")}
    assert got == reasons
    assert query("SELECT count(*) FROM raw.record")[0][0] == res.read


def test_reference_values_land_right(clean_db):
    load.ingest("smev", [REFERENCE / "egisso/schema/samples/gisfri/attachment/RequestExtract.xml"])
    assert query("SELECT snils, surname, first_name, patronymic, sex, birth_date::text, disability_group, "
                 "date_from::text, date_to::text, mse_act_number, cause_code, is_child "
                 "FROM staging.smev_disability") == [
        ("00000060001", "ПРЕСНЯКОВ", "РОМАН", "ЕВГЕНЬЕВИЧ", "M", "2003-09-01", 4, "2004-11-11", "2021-06-20",
         "ААП№124/2017-03-21", "5", True)]
    load.ingest("smev", [REFERENCE / "egisso/schema/samples/zags/death/v2019_08_22/request.xml",
                         REFERENCE / "egisso/schema/samples/zags/fatal.v4_0_6/request.xml"])
    assert query("SELECT record_number, snils, surname, birth_date::text, death_date::text, sex "
                 "FROM staging.smev_death ORDER BY record_number") == [
        ("170219920000200319007", None, "Тестов", "1954-02-15", "2021-02-26", "M"),
        ("2356", "15267513870", "Кузнецов", "1947-03-26", "2017-06-10", "M")]


def test_reference_files_loaded_twice_add_nothing(clean_db):
    files = [REFERENCE / rel for rel, e in EXPECTED.items() if e[0] == "smev" and e[2] > 0]
    first = load.ingest("smev", files)
    counts = query("SELECT (SELECT count(*) FROM raw.record), (SELECT count(*) FROM staging.smev_death)")
    again = load.ingest("smev", files)
    assert all(r.status == "skipped" for r in again) and len(again) == len(first)
    assert query("SELECT (SELECT count(*) FROM raw.record), (SELECT count(*) FROM staging.smev_death)") == counts
    assert Path(files[0]).exists()
