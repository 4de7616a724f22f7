"""SMEV 3 messages: envelopes of transport versions 1.1–1.3 and the payloads the LTC system needs.

Parsing is lenient on the transport (elements matched by local name, any version, missing optional
parts tolerated) because real messages break the published schemas; payloads are recognised by
their root element. An unknown payload is kept whole in quarantine, never dropped.
"""
from __future__ import annotations

import datetime as dt
import email.policy
from email.parser import BytesParser
from pathlib import Path
from typing import Iterator

from lxml import etree

from connectors.common import (MAX_FILE_BYTES, CastError, FileRejected, SourceRecord, as_date, cast_person, child,
                               descendant, local, parse_xml_bytes, text_of)
from etl.base import normalize

MAX_MESSAGE_BYTES = 256 * 1024**2



def parse(path: Path) -> Iterator[SourceRecord]:
    path = Path(path)
    size = path.stat().st_size
    if size > min(MAX_FILE_BYTES, MAX_MESSAGE_BYTES):
        raise FileRejected("file_too_large", f"{size} bytes, limit {MAX_MESSAGE_BYTES}")
    data = path.read_bytes()
    if not data.strip():
        raise FileRejected("empty_file", "no content")
    yield from parse_message(data, fallback_id=path.stem)


def mtom_root(data: bytes, content_type: str | None = None) -> bytes:
    """The SOAP part of an MTOM/XOP multipart/related message (SMEV sends large responses so).

    `content_type` is the HTTP header when known; a saved file starts with its boundary line.
    """
    if content_type is None:
        first = data.lstrip()[:200].split(b"\n", 1)[0].strip()
        if not first.startswith(b"--"):
            return data
        content_type = f'multipart/related; boundary="{first[2:].decode("ascii", "replace")}"'
    message = BytesParser(policy=email.policy.default).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + data.lstrip())
    if not message.is_multipart():
        raise FileRejected("malformed_mtom", "multipart/related without parts")
    parts = list(message.iter_parts())
    start = message.get_param("start")
    root = next((p for p in parts if start and p.get("Content-ID") == start), None) or \
        next((p for p in parts if "xop+xml" in p.get_content_type() or "xml" in p.get_content_type()), None)
    if root is None:
        raise FileRejected("malformed_mtom", "no XML root part")
    return root.get_payload(decode=True) or b""


def parse_message(data: bytes, fallback_id: str, content_type: str | None = None) -> Iterator[SourceRecord]:
    root = parse_xml_bytes(mtom_root(data, content_type))
    if local(root.tag) != "Envelope":  # a payload saved without its envelope (landing-folder mode)
        yield from payload_records(root, fallback_id)
        return
    body = child(root, "Body")
    if body is None:
        raise FileRejected("not_soap", "SOAP Envelope without a Body")
    fault = child(body, "Fault")
    if fault is not None:
        text = " ".join(x.strip() for x in fault.itertext() if x.strip())
        yield SourceRecord("smev_message", fallback_id, etree.tostring(fault, encoding="unicode"),
                           reason="soap_fault", detail=text[:500])
        return
    message_id = None
    for name in ("MessageID", "MessageId"):
        el = descendant(body, name)
        if el is not None and el.text:
            message_id = el.text.strip()
            break
    message_id = message_id or fallback_id
    content = descendant(body, "MessagePrimaryContent")
    status = descendant(body, "AsyncProcessingStatus")
    if content is None and status is not None:
        # SMEV's verdict on one of our requests (e.g. rejected as invalid content): kept, not staged
        detail = " / ".join(filter(None, (text_of(status, "StatusCategory"), text_of(status, "StatusDetails"))))
        yield SourceRecord("smev_message", message_id, etree.tostring(status, encoding="unicode"),
                           reason="smev_status", detail=detail[:500])
        return
    if content is None:
        return  # an empty queue or an acknowledgement: no citizen data in it
    payload = next((c for c in content if isinstance(c.tag, str)), None)
    if payload is not None:
        yield from payload_records(payload, message_id)


DEATH_ROOTS = ("FATALOIVRequest", "FATALRequest")  # ЗАГС 4.0.x via SMEV; the ЕГИССО sample's root


def payload_records(payload, message_id: str) -> Iterator[SourceRecord]:
    kind = local(payload.tag)
    death = payload if kind in DEATH_ROOTS else next(
        (d for d in (descendant(payload, r) for r in DEATH_ROOTS) if d is not None), None)
    if death is not None:
        yield from deaths(death, message_id)
    elif kind == "ВыпискаФРИ":
        yield from disability(payload, message_id)
    elif kind == "ЭДПФР" and child(payload, "АДВ-СМ") is not None:
        yield from pfr_deaths(child(payload, "АДВ-СМ"), message_id)
    elif kind == "request" and descendant(payload, "orderRequest") is not None:
        yield from applications(payload, message_id)
    else:
        yield SourceRecord("smev_message", message_id, etree.tostring(payload, encoding="unicode"),
                           reason="unknown_payload", detail=f"{{{etree.QName(payload).namespace}}}{kind}")


def applications(payload, message_id: str) -> Iterator[SourceRecord]:
    today = dt.date.today()
    for order in payload.iter():
        if local(order.tag) != "orderRequest":
            continue
        order_uuid = text_of(order, "orderUuid")
        rec = SourceRecord("smev_application", f"{message_id}/{order_uuid or 'order'}",
                           etree.tostring(order, encoding="unicode"))
        try:
            recipient = child(order, "recipient")
            fio = child(recipient, "fio")
            raw = {"snils": text_of(recipient, "snils"), "surname": text_of(fio, "surname"),
                   "first_name": text_of(fio, "forename"), "patronymic": text_of(fio, "patronymic")}
            address_el = child(recipient, "factAddress")
            if address_el is None:
                address_el = child(recipient, "residenceRegistrationAddress")
            oktmo = None
            if address_el is not None:
                for el in address_el.iter():
                    if local(el.tag).endswith(("Oktmo8", "Oktmo11")) and el.text:
                        oktmo = el.text.strip()[:8]
            out = {
                "message_id": message_id, "order_uuid": order_uuid,
                "order_number": text_of(order, "request", "orderNumber"),
                "order_date": _date(text_of(order, "request", "orderDate")),
                "oszn_name": text_of(order, "request", "osznName"),
                "sex": _sex(text_of(recipient, "gender")),
                "birth_date": _date(text_of(recipient, "birthDate")),
                "address": text_of(address_el, "fullAddress") if address_el is not None else None,
                "oktmo": oktmo, "phone": text_of(recipient, "phoneNumber"),
            }
            rec.values = cast_person(raw, out, today)
        except CastError as e:
            rec.reason, rec.detail = e.reason, e.detail
        yield rec


def deaths(request, message_id: str) -> Iterator[SourceRecord]:
    """ЗАГС death registrations (FATALOIVRequest 4.0.x): no SNILS, birth dates may be partial."""
    today = dt.date.today()
    for reg in request:
        if local(reg.tag) not in ("СведРегСмертОИВ", "СведРегСмерт"):
            continue
        number = reg.get("НомерЗапис") or reg.get("НомерЗаписЕГР") or "record"
        rec = SourceRecord("smev_death", f"{message_id}/{number}", etree.tostring(reg, encoding="unicode"))
        try:
            dead = descendant(reg, "СведУмер")
            if dead is None:
                dead = descendant(reg, "ПрдСведРег")  # FATALRequest 4.0.6: the deceased's data
            if dead is None:
                raise CastError("missing_required", "no СведУмер")
            raw = _identity(child(dead, "ФИОУмер"))
            birth, precision = _birth(dead)
            sex_code = dead.get("Пол") or text_of(dead, "Пол")
            death_date = _date(text_of(dead, "ДатаСмертКаленд"))
            if death_date is None:
                death_date, _ = _partial(child(dead, "ДатаСмертДок"))
            address = None
            adr = descendant(dead, "АдрМЖРФ")
            if adr is not None:
                fias = child(adr, "АдрРФФИАС")
                address = adr.get("АдрРФТекст") or (fias.get("АдрТекст") if fias is not None else None)
            organ = child(reg, "ОрганЗАГС")
            out = {"message_id": message_id, "record_number": number,
                   "record_date": _date(reg.get("ДатаЗапис") or text_of(reg, "ДатаЗапис")),
                   "death_date": death_date, "birth_date": birth, "birth_date_precision": precision,
                   "sex": {"1": "M", "2": "F"}.get((sex_code or "").strip()),
                   "zags_code": organ.get("КодЗАГС") if organ is not None else None, "address": address}
            _check_death_date(death_date, today)
            rec.values = cast_person(raw, out, today)
        except CastError as e:
            rec.reason, rec.detail = e.reason, e.detail
        yield rec


def pfr_deaths(adv, message_id: str) -> Iterator[SourceRecord]:
    """Deaths as the Pension Fund passes them on (АДВ-СМ 2019-08-22): with SNILS, full dates."""
    today = dt.date.today()
    for person in adv:
        if local(person.tag) != "ЗЛ":
            continue
        act = descendant(person, "ЗаписьАкта")
        number = text_of(act, "Номер") or "record"
        rec = SourceRecord("smev_death", f"{message_id}/{number}", etree.tostring(person, encoding="unicode"))
        try:
            raw = _identity(child(person, "ФИО"), snils=text_of(person, "СНИЛС"))
            death_date = _check_death_date(_date(text_of(person, "ДатаСмерти")), today)
            out = {"message_id": message_id, "record_number": number,
                   "record_date": _date(text_of(act, "Дата")),
                   "death_date": death_date, "birth_date": _date(text_of(person, "ДатаРождения")),
                   "birth_date_precision": "day", "sex": _sex(text_of(person, "Пол")), "zags_code": None,
                   "address": None}
            rec.values = cast_person(raw, out, today)
        except CastError as e:
            rec.reason, rec.detail = e.reason, e.detail
        yield rec


def disability(extract, message_id: str) -> Iterator[SourceRecord]:
    """ФРИ extract (ВыпискаФРИ): the person and the current disability (group, dates, МСЭ act)."""
    today = dt.date.today()
    extract_id = text_of(extract, "Идентификатор") or message_id
    rec = SourceRecord("smev_disability", f"{message_id}/{extract_id}", etree.tostring(extract, encoding="unicode"))
    try:
        person = child(extract, "ПерсональныеДанные")
        if person is None:
            raise CastError("missing_required", "no ПерсональныеДанные")
        raw = _identity(person, snils=text_of(person, "СНИЛС"))
        dis = child(person, "АктуальныеСведенияОбИнвалидности")  # text_of(None, …) is None: no disability data
        group = text_of(dis, "ГруппаИнвалидности")
        if group and group.strip() not in ("1", "2", "3", "4"):
            raise CastError("unknown_code", f"disability group {group!r}")
        out = {"message_id": message_id, "extract_id": extract_id,
               "extract_time": _datetime(text_of(extract, "ВремяФормирования")),
               "sex": _sex(text_of(person, "Пол")), "birth_date": _date(text_of(person, "ДатаРождения")),
               "disability_group": int(group) if group else None,
               "date_from": _date(text_of(dis, "ДатаС")), "date_to": _date(text_of(dis, "ДатаПо")),
               "mse_act_number": text_of(dis, "НомерАктаМСЭ"), "mse_act_date": _date(text_of(dis, "ДатаАктаМСЭ")),
               "reexamination_date": _date(text_of(dis, "ОчередноеОсвидетельствование")),
               "cause_code": text_of(dis, "КодПричиныИнвалидности"),
               "cause_name": text_of(dis, "НаименованиеПричиныИнвалидности"),
               "is_child": (text_of(dis, "Ребенок") or "").strip().lower() == "true" if dis is not None else None}
        rec.values = cast_person(raw, out, today)
    except CastError as e:
        rec.reason, rec.detail = e.reason, e.detail
    yield rec


def _identity(fio, snils: str | None = None) -> dict:
    """Name parts as the Russian federal formats write them (Фамилия, Имя, Отчество), and a SNILS."""
    return {"snils": snils, "surname": text_of(fio, "Фамилия"), "first_name": text_of(fio, "Имя"),
            "patronymic": text_of(fio, "Отчество")}


def _check_death_date(death_date: dt.date | None, today: dt.date) -> dt.date:
    if death_date is None:
        raise CastError("missing_required", "no date of death")
    if death_date > today:
        raise CastError("date_in_future", f"date of death {death_date}")
    return death_date


def _birth(dead) -> tuple[dt.date | None, str | None]:
    full = _date(text_of(dead, "ДатаРождКаленд"))
    if full:
        return full, "day"
    return _partial(child(dead, "ДатаРождДок"))


def _partial(el) -> tuple[dt.date | None, str | None]:
    """A document date with possibly unknown day or month (ПрДень / ПрМесяц): first day of the known span."""
    if el is None:
        return None, None
    year, month, day = text_of(el, "Год"), text_of(el, "Месяц"), text_of(el, "День")
    if not year:
        return None, None
    try:
        if month and day:
            return dt.date(int(year), int(month), int(day)), "day"
        if month:
            return dt.date(int(year), int(month), 1), "month"
        return dt.date(int(year), 1, 1), "year"
    except ValueError:
        raise CastError("bad_date", f"{day}.{month}.{year}") from None


def _date(text: str | None) -> dt.date | None:
    try:
        return as_date(text)
    except ValueError as e:
        raise CastError("bad_date", str(e)) from None


def _datetime(text: str | None) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(text) if text else None
    except ValueError as e:
        raise CastError("bad_date", str(e)) from None


def _sex(code: str | None) -> str | None:
    return normalize.normalize_sex(code)
