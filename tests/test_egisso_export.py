"""Export to ЕГИССО (issue 20): a generated region's recipients with their typifications, ИППСУ, services,
plans and facts as 10.42.I packages validated against the published XSD; a record the schema refuses held
back with its message; a round trip through a local HTTP server acting as the SMEV adapter, with a
protocol that refuses one record and one that refuses the whole message, reconciled; nothing exported
twice."""
from __future__ import annotations

import hashlib
import http.server
import json
import threading
import uuid
from pathlib import Path

import pytest
from lxml import etree

from connectors.egisso import documents
from etl.export import egisso
from tests.conftest import REFERENCE, query

ADAPTER = "urn://x-artefacts-smev-gov-ru/services/service-adapter/types"
PROTOCOL = documents.PROTOCOL
RESULT = "urn://egisso-ru/types/package-result/2.3.0"
RECORD = "urn://egisso-ru/types/record-result/2.3.0"
BASIC23 = "urn://egisso-ru/types/basic/2.3.0"


def _recipients(doc: etree._Element) -> list[etree._Element]:
    return doc.findall(f"{{{documents.PAC}}}package/{{{documents.PAC}}}elements/{{{documents.PAC}}}recipients")


def test_a_generated_region_exports_and_every_document_validates(loaded, tmp_path):
    res = egisso.export(tmp_path, "t1")
    expected = query("SELECT count(DISTINCT l.person_id) FROM register.cur_optima_recipient r JOIN register.person_link "
                     "l ON l.entity = 'optima_recipient' AND l.stg_id = r.stg_id JOIN register.person p "
                     "ON p.person_id = l.person_id AND p.status = 'active'")[0][0]
    # a recipient whose SNILS no source gave is held back (the schema requires it); everyone else goes
    no_snils = {k for (k,) in query(
        "SELECT DISTINCT p.register_id FROM register.person p JOIN register.person_link l ON l.person_id = p.person_id "
        "AND l.entity = 'optima_recipient' WHERE p.status = 'active' AND p.snils IS NULL")}
    assert {key for key, _ in res.held} == no_snils
    assert all(any("snils" in m for m in messages) for _, messages in res.held)
    expected -= len(no_snils)
    assert res.sent == expected > 50 and res.packages
    folders = sorted(tmp_path.glob("10.42.I-*"))
    assert len(folders) == len(res.packages)
    schema = documents.schema()
    published = None  # the conformance layer: the same documents against ../shared/reference's own files
    if REFERENCE.is_dir():
        published = etree.XMLSchema(etree.parse(str(REFERENCE / "egisso" / "schema" / "10.42.I-1.0.0.xsd")))
    uuids = []
    for folder in folders:
        data = (folder / "10.42.I.xml").read_bytes()
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        assert manifest["sha256"] == hashlib.sha256(data).hexdigest() and manifest["bytes"] == len(data)
        doc = etree.fromstring(data)
        schema.assertValid(doc)  # the document as written, against the published schema
        if published is not None:
            published.assertValid(doc)
        found = [r.findtext(f"{{{documents.RECIP}}}uuid") for r in _recipients(doc)]
        assert found == manifest["recipients"]
        uuids += found
    assert len(set(uuids)) == len(uuids) == expected
    # the tree is there: typifications with their levels, ИППСУ, services with monthly plans and facts
    doc = etree.fromstring((folders[0] / "10.42.I.xml").read_bytes())
    ns = {"typ": documents.TYP, "ippsu": documents.IPPSU, "service": documents.SERVICE, "recip": documents.RECIP}
    assert doc.xpath("count(//recip:typification)", namespaces=ns) > 0
    assert set(doc.xpath("//typ:group/text()", namespaces=ns)) <= {"1", "2", "3"}
    assert doc.xpath("count(//ippsu:service)", namespaces=ns) > 0
    assert doc.xpath("count(//service:plans)", namespaces=ns) > 0 and doc.xpath("count(//service:facts)", namespaces=ns) > 0
    # facts are the current care reports, minute for minute
    delivered = sum(int(x) for f in folders for x in etree.fromstring((f / "10.42.I.xml").read_bytes()).xpath(
        "//service:facts/*[local-name()='amount']/text()", namespaces=ns))
    assert delivered == query(
        "SELECT sum(c.minutes_delivered) FROM register.cur_optima_care_report c JOIN register.int_supplement_service s "
        "ON s.supplement_id = c.supplement_id AND s.service_code = c.service_code "
        "JOIN register.cur_optima_supplement u ON u.supplement_id = c.supplement_id WHERE u.ippsu_id IS NOT NULL")[0][0]
    # the export is audited: what, when, how many
    assert query("SELECT count(*), sum(records) FROM audit.egisso_package") == [(len(folders), expected)]
    # a second run finds nothing changed and writes nothing
    again = egisso.export(tmp_path / "again", "t2")
    assert again.sent == 0 and again.unchanged == expected + len(no_snils) and not again.packages
    assert not (tmp_path / "again").exists() or not any((tmp_path / "again").iterdir())


def test_a_record_the_schema_refuses_is_held_back_with_its_message(loaded, tmp_path):
    [(register_id,)] = query("SELECT p.register_id FROM register.person p JOIN register.person_link l "
                             "ON l.person_id = p.person_id AND l.entity = 'optima_recipient' "
                             "WHERE p.snils IS NOT NULL ORDER BY p.register_id LIMIT 1")
    before = {k for (k,) in query("SELECT register_id FROM register.person WHERE snils IS NULL")}
    snils = query("SELECT snils FROM register.person WHERE register_id = %s", (register_id,))[0][0]
    query("UPDATE register.person SET snils = NULL WHERE register_id = %s", (register_id,))
    res = egisso.export(tmp_path, "t1")
    assert [key for key, _ in res.held if key not in before] == [register_id]
    [messages] = [m for key, m in res.held if key == register_id]
    assert any("snils" in m for m in messages), messages
    assert not any(snils in m for m in messages)  # the schema's message, never the value
    [(status, reason)] = query("SELECT status, reason FROM audit.egisso_object WHERE object_key = %s", (register_id,))
    assert status == "held" and "snils" in reason
    # not in any package; the others are
    sent = {u for f in tmp_path.glob("10.42.I-*") for u in json.loads((f / "manifest.json").read_text())["recipients"]}
    assert egisso.object_uuid("recipient", register_id) not in sent and len(sent) == res.sent
    # unchanged, it stays held; corrected, it goes
    assert egisso.export(tmp_path / "2", "t2").sent == 0
    query("UPDATE register.person SET snils = %s WHERE register_id = %s", (snils, register_id))
    fixed = egisso.export(tmp_path / "3", "t3")
    assert fixed.sent == 1 and not fixed.held


# ---- a local SMEV adapter and a fake ЕГИССО behind it ------------------------------------------------------------
def protocol(package_id: str, refused: dict[str, str], total: int) -> bytes:
    """ЕГИССО's processing protocol of a package (package-protocol 2.3.0), refusing `refused` uuids."""
    root = etree.Element(f"{{{PROTOCOL}}}protocol", nsmap={None: PROTOCOL, "pr": RESULT, "rr": RECORD})
    result = etree.SubElement(root, f"{{{PROTOCOL}}}packageResult")
    for name, value in (("packageId", package_id), ("packageType", "10.42.I"),
                        ("packageStatus", "3" if refused else "2"), ("receivingTime", "2026-12-07T10:00:00+03:00"),
                        ("recordNum", str(total))):
        etree.SubElement(result, f"{{{RESULT}}}{name}").text = value
    if total - len(refused):
        etree.SubElement(result, f"{{{RESULT}}}recordNumSuccess").text = str(total - len(refused))
    if refused:
        errors = etree.SubElement(result, f"{{{PROTOCOL}}}errorRecords")
        for rec_id, report in refused.items():
            rec = etree.SubElement(errors, f"{{{RECORD}}}recordResult")
            etree.SubElement(rec, f"{{{RECORD}}}recId").text = rec_id
            etree.SubElement(rec, f"{{{RECORD}}}recordOK").text = "false"
            msg = etree.SubElement(rec, f"{{{RECORD}}}messages")
            etree.SubElement(msg, f"{{{RECORD}}}messageType").text = "1"
            etree.SubElement(msg, f"{{{RECORD}}}report").text = report
    documents.schema("schemas/egisso/package-protocol-2.3.0.xsd").assertValid(root)
    return etree.tostring(root)


class FakeAdapter:
    """An SMEV adapter in front of a fake ЕГИССО: takes ClientMessages (checking each document against the
    XSD), and answers FindMessageQuery with a ResponseMessage holding ЕГИССО's protocol — refusing the
    recipients named in `refuse`, or, with `reject_all`, the whole message (SMEV's rejects)."""

    def __init__(self):
        self.received: dict[str, etree._Element] = {}
        self.refuse: dict[str, str] = {}
        self.reject_all = False
        adapter = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                root = etree.fromstring(body)
                if root.find(f".//{{{ADAPTER}}}ClientMessage") is not None:
                    client_id = root.findtext(f".//{{{ADAPTER}}}clientId")
                    content = root.find(f".//{{{ADAPTER}}}MessagePrimaryContent")[0]
                    doc = etree.fromstring(etree.tostring(content))
                    documents.schema().assertValid(doc)
                    adapter.received[client_id] = doc
                    answer = f'<tns:MessageResult xmlns:tns="{ADAPTER}"/>'
                else:
                    client_id = root.findtext(f".//{{{ADAPTER}}}clientId")
                    answer = adapter.answer(client_id)
                data = (f'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>{answer}'
                        f"</soap:Body></soap:Envelope>").encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/xml; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/ws"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, client_id: str) -> str:
        doc = self.received.get(client_id)
        if doc is None:
            return f'<tns:QueryResultList xmlns:tns="{ADAPTER}"/>'
        ids = [r.findtext(f"{{{documents.RECIP}}}uuid") for r in _recipients(doc)] + [
            w.findtext(f"{{{documents.PAC}}}recipientUuid") for w in doc.iter(f"{{{documents.PAC}}}invalidation")]
        if self.reject_all:
            content = ("<tns:rejects><tns:code>ACCESS_DENIED</tns:code><tns:description>Участник не зарегистрирован"
                       "</tns:description></tns:rejects>")
        else:
            refused = {u: why for u, why in self.refuse.items() if u in ids}
            body = protocol(doc.findtext(f".//{{{documents.PAC}}}packageId"), refused, len(ids)).decode()
            content = f"<tns:content><tns:MessagePrimaryContent>{body}</tns:MessagePrimaryContent></tns:content>"
        return (f'<tns:QueryResultList xmlns:tns="{ADAPTER}"><tns:QueryResult><tns:smevMetadata>'
                f"<tns:MessageId>{uuid.uuid4()}</tns:MessageId></tns:smevMetadata><tns:Message><tns:ResponseMessage>"
                f"<tns:ResponseMetadata><tns:clientId>{uuid.uuid4()}</tns:clientId><tns:replyToClientId>{client_id}"
                f"</tns:replyToClientId></tns:ResponseMetadata><tns:ResponseContent>{content}</tns:ResponseContent>"
                f"</tns:ResponseMessage></tns:Message></tns:QueryResult></tns:QueryResultList>")

    def close(self):
        self.server.shutdown()


@pytest.fixture
def adapter():
    fake = FakeAdapter()
    yield fake
    fake.close()


def test_a_round_trip_through_the_smev_adapter_with_a_refusal_reconciled(loaded, tmp_path, adapter):
    client = egisso.adapter(adapter.url, "LTC_TEST")
    people = [k for (k,) in query("SELECT DISTINCT p.register_id FROM register.person p JOIN register.person_link l "
                                  "ON l.person_id = p.person_id AND l.entity = 'optima_recipient' "
                                  "WHERE p.status = 'active' AND p.snils IS NOT NULL ORDER BY 1")]
    refused_key = people[3]
    adapter.refuse = {egisso.object_uuid("recipient", refused_key): "ФЛК-017: СНИЛС не найден в ПФР"}
    first = egisso.export(tmp_path, "t1", send=egisso.sender(client))
    assert first.sent == len(people) and all(p.get("client_id") for p in first.packages)
    assert set(adapter.received) == {p["package_id"] for p in first.packages}
    assert query("SELECT count(*) FROM audit.egisso_package WHERE status = 'sent'") == [(len(first.packages),)]
    assert query("SELECT count(*) FROM audit.egisso_watermark") == [(0,)]  # nothing accepted yet
    # the answers: one record refused, with ЕГИССО's reason; the rest accepted; the watermark moves
    done = egisso.collect_answers(client)
    assert sum(r.accepted for r in done) == len(people) - 1
    assert [r.rejected for r in done if r.rejected] == [{refused_key: ["ФЛК-017: СНИЛС не найден в ПФР"]}]
    assert query("SELECT status, reason FROM audit.egisso_object WHERE object_key = %s", (refused_key,)) == [
        ("rejected", "ФЛК-017: СНИЛС не найден в ПФР")]
    assert query("SELECT count(*) FROM audit.egisso_watermark") == [(1,)]
    for p in first.packages:
        assert (Path(p["folder"]) / "answer.xml").exists()  # each answer kept beside its package
    # again: nothing new — the accepted are unchanged, the refused one has not been corrected
    adapter.received.clear()
    assert egisso.collect_answers(client) == []
    assert egisso.export(tmp_path / "2", "t2", send=egisso.sender(client)).sent == 0 and not adapter.received
    # corrected (its card re-sent with another e-mail), it goes again, alone, and is accepted
    query("UPDATE staging.optima_recipient SET email = 'corrected@example.ru' WHERE stg_id IN (SELECT l.stg_id "
          "FROM register.person_link l JOIN register.person p USING (person_id) WHERE p.register_id = %s "
          "AND l.entity = 'optima_recipient')", (refused_key,))
    adapter.refuse = {}
    again = egisso.export(tmp_path / "3", "t3", send=egisso.sender(client))
    assert again.sent == 1
    [done] = egisso.collect_answers(client)
    assert (done.status, done.accepted, done.rejected) == ("accepted", 1, {})
    assert query("SELECT count(*) FROM audit.egisso_object WHERE status NOT IN ('accepted', 'held')") == [(0,)]


def test_a_message_refused_whole_accepts_nothing_and_goes_again_once_changed(loaded, tmp_path, adapter):
    client = egisso.adapter(adapter.url, "LTC_TEST")
    adapter.reject_all = True
    first = egisso.export(tmp_path, "t1", send=egisso.sender(client))
    done = egisso.collect_answers(client)
    assert {r.status for r in done} == {"rejected"} and sum(r.accepted for r in done) == 0
    assert all("ACCESS_DENIED" in why[0] for r in done for why in r.rejected.values())
    assert query("SELECT count(*) FROM audit.egisso_watermark") == [(0,)]
    assert query("SELECT count(*) FROM audit.egisso_object WHERE status = 'rejected'") == [(first.sent,)]


def test_a_recipient_the_register_no_longer_has_is_withdrawn(loaded, tmp_path, adapter):
    client = egisso.adapter(adapter.url, "LTC_TEST")
    egisso.export(tmp_path, "t1", send=egisso.sender(client))
    egisso.collect_answers(client)
    [(key, person_id)] = query("SELECT p.register_id, p.person_id FROM register.person p JOIN register.person_link l "
                               "ON l.person_id = p.person_id AND l.entity = 'optima_recipient' "
                               "ORDER BY p.register_id LIMIT 1")
    # the person merged into another (a redirect, as a decision of the register would leave it)
    query("UPDATE register.person SET status = 'merged', merged_into = (SELECT min(person_id) FROM register.person "
          "WHERE person_id <> %s) WHERE person_id = %s", (person_id, person_id))
    adapter.received.clear()
    res = egisso.export(tmp_path / "2", "t2", send=egisso.sender(client))
    assert res.withdrawn == 1
    [doc] = adapter.received.values()
    withdrawn = doc.findall(f".//{{{documents.PAC}}}invalidation")
    assert [w.findtext(f"{{{documents.PAC}}}recipientUuid") for w in withdrawn] == [egisso.object_uuid("recipient", key)]
    egisso.collect_answers(client)
    assert query("SELECT count(*) FROM audit.egisso_object WHERE object_key = %s", (key,)) == [(0,)]
    assert egisso.export(tmp_path / "3", "t3", send=egisso.sender(client)).withdrawn == 0  # not twice


@pytest.mark.reference
def test_the_schemas_kept_are_the_published_ones():
    """connectors/egisso/xsd holds the ЕГИССО release byte for byte (../shared/reference/egisso/schema)."""
    if not REFERENCE.is_dir():
        pytest.skip(f"{REFERENCE} is absent")
    published = REFERENCE / "egisso" / "schema"
    for path in sorted(documents.XSD.rglob("*.xsd")):
        assert path.read_bytes() == (published / path.relative_to(documents.XSD)).read_bytes(), path


@pytest.mark.reference
def test_what_goes_to_the_adapter_is_valid_for_its_published_schema(monkeypatch):
    """The ClientMessage a package travels in and the FindMessageQuery its answer is asked with, against
    the SMEV adapter's schema (../shared/reference/smev3/adapter)."""
    if not REFERENCE.is_dir():
        pytest.skip(f"{REFERENCE} is absent")
    from connectors.smev import transport

    xsd = etree.XMLSchema(etree.parse(str(REFERENCE / "smev3" / "adapter" / "smev-service-adapter-types.xsd")))
    sent = []

    class Answer:
        headers = {"Content-Type": "text/xml"}
        content = f'<QueryResultList xmlns="{ADAPTER}"/>'.encode()

    client = transport.AdapterClient("http://adapter.invalid/ws", "LTC_TEST")
    monkeypatch.setattr(client, "_post", lambda body: sent.append(body) or Answer())
    doc = documents.serialize(documents.package(str(uuid.uuid4()), []))
    client.send("2f0b6a52-5d1c-4f47-9a4e-0d9b8c3f1a77", doc)
    assert client.response_to("2f0b6a52-5d1c-4f47-9a4e-0d9b8c3f1a77") is None
    for body in sent:
        element = etree.fromstring(transport._envelope(body))[0][0]
        xsd.assertValid(etree.fromstring(etree.tostring(element)))
