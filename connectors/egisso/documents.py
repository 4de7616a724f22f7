"""ЕГИССО documents: the 10.42.I package of changes to the register of recipients of social services
(each recipient with their typifications, ИППСУ, services, plans and facts, and the applications the
typifications answer), validated against the published XSD before anything is written; and the
processing protocol ЕГИССО answers a package with (package-protocol 2.3.0).

The builders take plain dictionaries (etl/export/egisso.py makes them from the register) and know
only the schemas' element names, order and namespaces: a local element is in the namespace of the
schema that declares it (elementFormDefault="qualified"), so a recipient's fields are in the recipient
namespace, its name's parts in the basic types', a typification's in the typification namespace, and so
on down the tree. Formats: docs/formats/egisso.md; schemas: xsd/ (release 23.12.0).
"""
from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from lxml import etree

from connectors.common import FileRejected, descendant, parse_xml_bytes

XSD = Path(__file__).resolve().parent / "xsd"
MSG = "urn://egisso-ru/msg/10.42.I/1.0.0"
PAC = "urn://egisso-ru/types/package-recipient/1.0.0"
RECIP = "urn://egisso-ru/types/recipient/1.0.0"
BASIC = "urn://egisso-ru/types/basic/2.1.0"
PRSN = "urn://egisso-ru/types/prsn-info/2.0.0"
TYP = "urn://egisso-ru/types/typification/1.0.0"
IPPSU = "urn://egisso-ru/types/ippsu/1.0.0"
SERVICE = "urn://egisso-ru/types/ippsu-service/1.0.0"
PLAN = "urn://egisso-ru/types/ippsu-plan/1.0.0"
FACT = "urn://egisso-ru/types/ippsu-fact/1.0.0"
REQ = "urn://egisso-ru/types/requests/1.0.0"
PROTOCOL = "urn://egisso-ru/types/package-protocol/2.3.0"
NSMAP = {"msg": MSG, "pac": PAC, "recip": RECIP, "egisso": BASIC, "prsn": PRSN, "typ": TYP, "ippsu": IPPSU,
         "service": SERVICE, "plan": PLAN, "fact": FACT, "req": REQ}
ROOT_NSMAP = {None: MSG, **{k: v for k, v in NSMAP.items() if k != "msg"}}  # prefixes declared once, at the root
MAX_RECIPIENTS = 1000  # the package's own limit (package-recipient-1.0.0: recipients maxOccurs)
MOSCOW = dt.timezone(dt.timedelta(hours=3))


@functools.cache
def schema(name: str = "10.42.I-1.0.0.xsd") -> etree.XMLSchema:
    """A published schema, compiled once (its imports resolve inside xsd/, never over the network)."""
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    return etree.XMLSchema(etree.parse(str(XSD / name), parser))


def _el(parent, ns: str, name: str, text=None):
    node = etree.SubElement(parent, f"{{{ns}}}{name}")
    if text is not None:
        node.text = _text(text)
    return node


def _opt(parent, ns: str, name: str, text) -> None:
    """An optional element, written only when there is something to say."""
    if text not in (None, ""):
        _el(parent, ns, name, text)


def _text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return timestamp(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral() else format(value, "f")
    return str(value)


def timestamp(value: dt.datetime | dt.date) -> str:
    """tTimestamp: seconds and a zone of +02:00…+12:00 or Z; a date is its midnight, Moscow time."""
    if not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time(), MOSCOW)
    elif value.tzinfo is None:
        value = value.replace(tzinfo=MOSCOW)
    return value.astimezone(MOSCOW).strftime("%Y-%m-%dT%H:%M:%S+03:00")


def _statuses(parent, ns: str, statuses: list[dict]) -> None:
    for s in statuses:
        node = _el(parent, ns, "status")
        _el(node, ns, "statusCode", s["code"])
        _el(node, ns, "statusDate", timestamp(s["date"]))
        _opt(node, ns, "statusDescription", s.get("description"))


def _service(parent, s: dict) -> None:
    node = _el(parent, IPPSU, "service")
    for name in ("ippsuUuid", "uuid", "lmszUuid", "startDate", "endDate", "amount", "price"):
        _el(node, SERVICE, name, s[name])
    _opt(node, SERVICE, "unitOkei", s.get("unitOkei"))
    _el(node, SERVICE, "unitEgisso", s["unitEgisso"])
    _opt(node, SERVICE, "reject", s.get("reject"))
    providers = _el(node, SERVICE, "listServiceProviders")
    for uuid, approved in s.get("providers", []):
        p = _el(providers, SERVICE, "ServiceProvider")
        _el(p, SERVICE, "serviceProviderUuid", uuid)
        _opt(p, SERVICE, "approveProvider", approved)
    if s.get("plans"):
        plans = _el(node, SERVICE, "listPlans")
        for pl in s["plans"]:
            row = _el(plans, SERVICE, "plans")
            for name in ("ippsuServiceUuid", "uuid"):
                _el(row, PLAN, name, pl[name])
            _el(row, PLAN, "startDate", timestamp(pl["startDate"]))
            _el(row, PLAN, "endDate", timestamp(pl["endDate"]))
            for name in ("amount", "price"):
                _el(row, PLAN, name, pl[name])
            _opt(row, PLAN, "unitOkei", pl.get("unitOkei"))
            _el(row, PLAN, "unitEgisso", pl["unitEgisso"])
            _opt(row, PLAN, "contract", pl.get("contract"))
    if s.get("facts"):
        facts = _el(node, SERVICE, "listFacts")
        for f in s["facts"]:
            row = _el(facts, SERVICE, "facts")
            _el(row, FACT, "uuid", f["uuid"])
            _el(row, FACT, "startDate", timestamp(f["startDate"]))
            _el(row, FACT, "endDate", timestamp(f["endDate"]))
            _el(row, FACT, "amount", f["amount"])
            _el(row, FACT, "unitEgisso", f["unitEgisso"])
            _opt(row, FACT, "approve", f.get("approve"))
            _el(row, FACT, "executor", f["executor"])
            _el(row, FACT, "ippsuServiceUuid", f["ippsuServiceUuid"])


def _ippsu(parent, i: dict) -> None:
    node = _el(parent, TYP, "ippsu")
    for name in ("typificationUuid", "uuid", "number", "resolutionDate", "supplyConditions", "careForm"):
        _el(node, IPPSU, name, i[name])
    _statuses(_el(node, IPPSU, "listStatuses"), IPPSU, i.get("statuses", []))
    if i.get("services"):
        services = _el(node, IPPSU, "listServices")
        for s in i["services"]:
            _service(services, s)


def _typification(parent, t: dict) -> None:
    node = _el(parent, RECIP, "typification")
    for name in ("recipientUuid", "requestUuid", "uuid", "date", "group", "points"):
        _el(node, TYP, name, t[name])
    _opt(node, TYP, "details", t.get("details"))
    if t.get("ippsus"):
        ippsus = _el(node, TYP, "listIppsus")
        for i in t["ippsus"]:
            _ippsu(ippsus, i)


def recipient(parent, r: dict):
    """One `recipients` element of the package (tRecipients) from a recipient's dictionary."""
    node = _el(parent, PAC, "recipients")
    for name in ("uuid", "snils"):
        _el(node, RECIP, name, r.get(name))
    fio = _el(node, RECIP, "fio")
    _el(fio, BASIC, "surname", r.get("surname"))
    _opt(fio, BASIC, "patronymic", r.get("patronymic"))
    _el(fio, BASIC, "forename", r.get("forename"))
    for name in ("birthDate", "birthPlace", "gender", "citizenshipCode"):
        _el(node, RECIP, name, r.get(name))
    doc = r.get("identityDoc") or {}
    identity = _el(node, RECIP, "identityDoc")
    if doc.get("date"):
        _el(_el(identity, PRSN, "date"), BASIC, "fullDate", doc["date"])
    _el(identity, PRSN, "number", doc.get("number"))
    _el(identity, PRSN, "codeType", doc.get("codeType"))
    _opt(identity, PRSN, "series", doc.get("series"))
    _opt(identity, PRSN, "issuer", doc.get("issuer"))
    _opt(identity, RECIP, "issuerCode", doc.get("issuerCode"))
    if r.get("registrationOktmo"):
        reg = _el(node, RECIP, "residenceRegistrationAddress")
        _el(_el(reg, RECIP, "residenceRegistrationAddressOktmo"), RECIP, "residenceRegistrationAddressOktmo8",
            r["registrationOktmo"])
    fact = _el(node, RECIP, "factAddress")
    if r.get("factOktmo"):
        _el(_el(fact, RECIP, "factAddressOktmo"), RECIP, "factAddressOktmo8", r["factOktmo"])
    _opt(node, RECIP, "contactPhone", r.get("contactPhone"))
    _opt(node, RECIP, "contactEmail", r.get("contactEmail"))
    _statuses(_el(node, RECIP, "statusesHistory"), RECIP, r.get("statuses", []))
    _el(node, RECIP, "source", r.get("source"))
    _opt(node, RECIP, "informationProviderCode", r.get("informationProviderCode"))
    if r.get("typifications"):
        typs = _el(node, RECIP, "listTypifications")
        for t in r["typifications"]:
            _typification(typs, t)
    if r.get("requests"):
        reqs = _el(node, RECIP, "listRequests")
        for q in r["requests"]:
            req = _el(reqs, RECIP, "request")
            for name in ("orderUuid", "requestOszn", "requestNumber", "requestDate"):
                _el(req, REQ, name, q[name])
    return node


def holder() -> etree._Element:
    """An element declaring the package's prefixes: a recipient built under it is written as in a package."""
    return etree.Element(f"{{{MSG}}}request", nsmap=ROOT_NSMAP)


def package(package_id: str, recipients: list[dict], invalidations: list[dict] = ()) -> etree._Element:
    """The 10.42.I request: a package of new and changed recipients and of recipients withdrawn."""
    if len(recipients) > MAX_RECIPIENTS or len(invalidations) > MAX_RECIPIENTS:
        raise ValueError(f"a package holds at most {MAX_RECIPIENTS} recipients and {MAX_RECIPIENTS} withdrawals")
    root = etree.Element(f"{{{MSG}}}request", nsmap=ROOT_NSMAP)
    pkg = _el(root, PAC, "package")
    _el(pkg, PAC, "packageId", package_id)
    elements = _el(pkg, PAC, "elements")
    for r in recipients:
        recipient(elements, r)
    for inv in invalidations:
        node = _el(elements, PAC, "invalidation")
        for name in ("actionUuid", "recordUuid", "recipientUuid"):
            _opt(node, PAC, name, inv.get(name))
        _el(node, PAC, "updateDate", timestamp(inv["updateDate"]))
        _el(node, PAC, "excludeDescription", inv["excludeDescription"])
    return root


def problems(doc: etree._Element, name: str = "10.42.I-1.0.0.xsd") -> list[str]:
    """The schema's messages for a document (empty: it is valid), each with its line and element —
    never the values, which are personal data (lxml's messages name elements and types, and quote a
    value only for enumerations and patterns, which say nothing of a person: the pattern, not the text)."""
    xsd = schema(name)
    if xsd.validate(doc):
        return []
    return [_message(e) for e in xsd.error_log]


def _message(e) -> str:
    # lxml quotes the offending value ("The value '123' is not accepted by the pattern…"): the value goes
    import re

    text = re.sub(r"The value '[^']*'", "The value", e.message)
    return f"{e.path}: {text}"


def serialize(doc: etree._Element) -> bytes:
    return etree.tostring(doc, encoding="utf-8", xml_declaration=True)


# ---- the answer: a processing protocol ------------------------------------------------------------------
@dataclass
class Protocol:
    """What ЕГИССО said of a package: the whole message refused (errors), or a result with the elements
    it refused (record uuid → its messages); accepted is what it took."""
    package_id: str | None = None
    package_status: int | None = None
    message_errors: list[str] = field(default_factory=list)
    rejected: dict[str, list[str]] = field(default_factory=dict)
    accepted_records: int | None = None

    @property
    def refused_whole(self) -> bool:
        return bool(self.message_errors)


def parse_protocol(data: bytes) -> Protocol:
    """The protocol (package-protocol 2.3.0) of a package, from the answer's bytes (the protocol itself,
    or any envelope holding it: the SMEV adapter's QueryResult). Unreadable or absent: FileRejected."""
    root = parse_xml_bytes(data)
    proto = root if etree.QName(root).localname == "protocol" else descendant(root, "protocol")
    if proto is None:
        raise FileRejected("no_protocol", "the answer holds no ЕГИССО processing protocol")
    proto = parse_xml_bytes(etree.tostring(proto))  # a protocol inside an envelope is checked as its own root
    found = problems(proto, "schemas/egisso/package-protocol-2.3.0.xsd")
    if found:
        raise FileRejected("invalid_protocol", "; ".join(found[:3]))
    out = Protocol()
    message = descendant(proto, "messageResult")
    if message is not None:
        for err in message.iter("{*}error"):
            out.message_errors.append(" ".join(t.strip() for t in err.itertext() if t.strip()))
        return out
    result = descendant(proto, "packageResult")
    out.package_id = (descendant(result, "packageId").text or "").strip()
    out.package_status = int(descendant(result, "packageStatus").text)
    success = descendant(result, "recordNumSuccess")
    out.accepted_records = int(success.text) if success is not None else None
    for rec in result.iter("{*}recordResult"):
        rec_id = (descendant(rec, "recId").text or "").strip()
        ok = (descendant(rec, "recordOK").text or "").strip() == "true"
        reports = [(r.text or "").strip() for r in rec.iter("{*}report")]
        if not ok:
            out.rejected[rec_id] = reports or ["отклонено без сообщения"]
    return out
