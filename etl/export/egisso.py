"""Export of the register's long-term-care data to ЕГИССО (10.42.I: the register of recipients of social
services): each recipient with their typifications (care level, date, points), ИППСУ and the services
of its supplements — planned per month and delivered per monthly report — and the applications the
typifications answer.

- Identifiers are stable: uuid5 of the region's namespace (LTC_EGISSO_NAMESPACE) and each record's own
  key (the register id, the assessment, the ИППСУ, the supplement and service, the month, the report).
- Incremental: a recipient goes out when what it says differs from what ЕГИССО last accepted of it
  (audit.egisso_object.accepted_hash); one held back or refused goes out again once it changed (its
  correction). `since` re-sends what was accepted at or after that moment, unchanged or not.
- Every recipient is validated on its own against the XSD before it joins a package: one that fails is
  not sent and is recorded with the schema's messages (status held); each package is validated whole
  again before it is written.
- Delivery: a folder per package (the document and a manifest) and, when an SMEV adapter is configured,
  sent through it; the answer — ЕГИССО's processing protocol — is read back (from the adapter, or a file
  with `apply_protocol`) and reconciled: refused records are listed with their reasons, the accepted
  ones' content becomes what the next run compares with, and the watermark moves.
Personal data leaves only in these packages; each is audited (audit.egisso_package: what, when, how many).
Mapping of every field: docs/formats/egisso.md.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import uuid as uuidlib
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from lxml import etree

from connectors.egisso import documents
from etl.base import db, settings
from etl.models import sqlmodels

log = logging.getLogger(__name__)

DOC_TYPE = "10.42.I"
WITHDRAWAL = "withdrawal"  # the reason of an object whose withdrawal (an invalidation element) is in flight
PRICE_FREE = "0"  # the social package of long-term care is free of charge (the 2024 model)


def namespace() -> uuidlib.UUID:
    return uuidlib.uuid5(uuidlib.NAMESPACE_URL, f"urn:ltc-register:{settings.current().egisso_namespace}")


def object_uuid(kind: str, key: str) -> str:
    return str(uuidlib.uuid5(namespace(), f"{kind}:{key}"))


def _is_uuid(text: str | None) -> bool:
    try:
        return text is not None and str(uuidlib.UUID(text)) == text.lower()
    except ValueError:
        return False


def _digits(text: str | None, n: int) -> str | None:
    d = "".join(c for c in (text or "") if c.isdigit())
    return d[-n:] if len(d) >= n else None


# ---- the register, read ---------------------------------------------------------------------------------------
def _rows(cur, sql: str, params=None) -> list[dict]:
    cur.execute(sql, params)
    names = [c.name for c in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def _group(rows: list[dict], key: str) -> dict:
    out: dict = {}
    for r in rows:
        out.setdefault(r[key], []).append(r)
    return out


def _codes(cur) -> dict[tuple[str, str], str]:
    cur.execute("SELECT kind, our_code, egisso_code FROM ref.egisso_code")
    return {(k, o): e for k, o, e in cur.fetchall()}


def _rule(cur, name: str, on: dt.date) -> Decimal | None:
    cur.execute("SELECT value FROM ref.care_rule WHERE rule = %s AND %s >= valid_from AND (valid_to IS NULL OR "
                "%s <= valid_to)", (name, on, on))
    row = cur.fetchone()
    return row[0] if row else None


def read_recipients(cur) -> list[dict]:
    """The recipients' dictionaries for the 10.42.I package, one per active register person with an
    OPTIMA recipient card, from the current layer."""
    cfg = settings.current()
    codes = _codes(cur)
    people = _rows(cur, """
        SELECT DISTINCT ON (p.person_id) p.person_id, p.register_id, p.snils, p.surname, p.first_name, p.patronymic,
               p.sex, p.birth_date, coalesce(r.oktmo, p.oktmo) AS oktmo, r.recipient_id, r.phone, r.email,
               r.birth_place, r.citizenship, r.doc_type, r.doc_series, r.doc_number, r.doc_date, r.doc_issuer,
               r.doc_issuer_code, r.identified_channel, r.identified_date, r.status
        FROM register.cur_optima_recipient r
        JOIN register.person_link l ON l.entity = 'optima_recipient' AND l.stg_id = r.stg_id
        JOIN register.person p ON p.person_id = l.person_id AND p.status = 'active'
        ORDER BY p.person_id, r.version_at DESC, r.stg_id DESC""")
    statuses = _group(_rows(cur, "SELECT person_id, status, exit_reason, valid_from FROM register.int_person_status "
                                 "ORDER BY person_id, valid_from"), "person_id")
    recipients_of = _group(_rows(cur, "SELECT person_id, recipient_id FROM register.int_recipient_person"), "person_id")
    assessments = _group(_rows(cur, "SELECT a.*, rp.person_id FROM register.int_assessment a "
                                    "JOIN register.int_recipient_person rp USING (recipient_id) "
                                    "WHERE a.care_level IS NOT NULL ORDER BY a.assessment_date, a.assessment_id"),
                         "person_id")
    applications = _group(_rows(cur, """
        SELECT l.person_id, a.order_uuid, a.order_number, a.order_date, a.oszn_name, a.message_id
        FROM register.cur_smev_application a
        JOIN register.person_link l ON l.entity = 'smev_application' AND l.stg_id = a.stg_id
        WHERE a.order_date IS NOT NULL ORDER BY a.order_date"""), "person_id")
    ippsus = _group(_rows(cur, "SELECT * FROM register.cur_optima_ippsu ORDER BY issue_date, ippsu_id"),
                    "assessment_id")
    supplements = _group(_rows(cur, "SELECT * FROM register.cur_optima_supplement WHERE ippsu_id IS NOT NULL "
                                    "ORDER BY start_date, supplement_id"), "ippsu_id")
    services = _group(_rows(cur, "SELECT * FROM register.int_supplement_service ORDER BY supplement_id, service_code"),
                      "supplement_id")
    months = _group(_rows(cur, "SELECT supplement_id, month, assigned_minutes FROM register.int_package_month "
                               "ORDER BY month"), "supplement_id")
    reports = _group(_rows(cur, "SELECT * FROM register.cur_optima_care_report ORDER BY month, report_id"),
                     "supplement_id")
    out = []
    for p in people:
        out.append(_recipient(cur, p, statuses.get(p["person_id"], []), recipients_of.get(p["person_id"], []),
                              assessments.get(p["person_id"], []), applications.get(p["person_id"], []), ippsus,
                              supplements, services, months, reports, codes, cfg))
    return out


def _recipient(cur, p, statuses, cards, assessments, applications, ippsus, supplements, services, months, reports,
               codes, cfg) -> dict:
    uid = object_uuid("recipient", p["register_id"])
    # the applications the typifications answer: the person's ЕПГУ applications; where there is none, the
    # case opened in ЕИС on the card's identification (docs/formats/egisso.md)
    requests = [{"orderUuid": a["order_uuid"] if _is_uuid(a["order_uuid"]) else object_uuid("request", a["message_id"]),
                 "requestOszn": a["oszn_name"] or cfg.egisso_oszn,
                 "requestNumber": a["order_number"] or a["order_uuid"] or a["message_id"],
                 "requestDate": a["order_date"]} for a in applications]
    if not requests and p["identified_date"]:
        requests.append({"orderUuid": object_uuid("request", p["recipient_id"]), "requestOszn": cfg.egisso_oszn,
                         "requestNumber": p["recipient_id"], "requestDate": p["identified_date"]})
    typifications = []
    for a in assessments:
        before = [q for q in requests if q["requestDate"] <= a["assessment_date"]] or requests
        t_uid = object_uuid("typification", a["assessment_id"])
        typifications.append({
            "recipientUuid": uid, "requestUuid": before[-1]["orderUuid"] if before else None, "uuid": t_uid,
            "date": a["assessment_date"], "group": a["care_level"], "points": a["points"],
            "ippsus": [_ippsu(cur, i, t_uid, supplements, services, months, reports, codes)
                       for i in ippsus.get(a["assessment_id"], [])]})
    return {
        "key": p["register_id"], "uuid": uid, "snils": p["snils"], "surname": p["surname"],
        "patronymic": p["patronymic"], "forename": p["first_name"], "birthDate": p["birth_date"],
        "birthPlace": p["birth_place"], "gender": p["sex"], "citizenshipCode": p["citizenship"],
        "identityDoc": {"date": p["doc_date"], "number": p["doc_number"], "series": p["doc_series"],
                        "codeType": codes.get(("document_type", p["doc_type"] or "")), "issuer": p["doc_issuer"],
                        "issuerCode": p["doc_issuer_code"]},
        "registrationOktmo": p["oktmo"], "factOktmo": p["oktmo"], "contactPhone": _digits(p["phone"], 10),
        "contactEmail": p["email"],
        "statuses": [{"code": codes.get(("recipient_status", s["status"])), "date": s["valid_from"],
                      "description": {"death": "смерть", "refusal": "отказ от социального пакета",
                                      "loss_of_right": "утрата права"}.get(s["exit_reason"])} for s in statuses],
        "source": codes.get(("source", p["identified_channel"] or "other"), codes.get(("source", "other"))),
        "informationProviderCode": cfg.egisso_participant, "typifications": typifications, "requests": requests}


def _ippsu(cur, i, typification_uuid, supplements, services, months, reports, codes) -> dict:
    i_uid = object_uuid("ippsu", i["ippsu_id"])
    statuses = [{"code": codes.get(("ippsu_status", "in_force")), "date": i["issue_date"]}]
    if i["end_date"]:
        statuses.append({"code": codes.get(("ippsu_status", "ended")), "date": i["end_date"]})
    out_services = []
    for s in supplements.get(i["ippsu_id"], []):
        rows = services.get(s["supplement_id"], [])
        weekly_total = sum(r["minutes_per_week"] or 0 for r in rows)
        end = s["end_date"] or i["end_date"]
        if end is None:  # an open supplement: until its reassessment falls due (reassessment_period_months)
            period = _rule(cur, "reassessment_period_months", s["start_date"]) or Decimal(12)
            end = _add_months(s["start_date"], int(period)) - dt.timedelta(days=1)
        for r in rows:
            s_uid = object_uuid("service", f"{s['supplement_id']}/{r['service_code']}")
            unit = {"unitOkei": codes.get(("okei", "minute")), "unitEgisso": codes.get(("unit", "minute"))}
            plans = []
            for m in months.get(s["supplement_id"], []):
                share = (r["minutes_per_week"] or 0) / weekly_total if weekly_total else 0
                first = max(m["month"], s["start_date"])
                last = min(_add_months(m["month"], 1) - dt.timedelta(days=1), end)
                plans.append({"ippsuServiceUuid": s_uid,
                              "uuid": object_uuid("plan", f"{s['supplement_id']}/{r['service_code']}/{m['month']}"),
                              "startDate": first, "endDate": last, "amount": round(m["assigned_minutes"] * share),
                              "price": PRICE_FREE, **unit})
            facts = [{"uuid": object_uuid("fact", c["report_id"]), "startDate": c["month"],
                      "endDate": _add_months(c["month"], 1) - dt.timedelta(days=1), "amount": c["minutes_delivered"],
                      "unitEgisso": unit["unitEgisso"], "approve": True,
                      "executor": f"помощник по уходу {c['assistant_id']}" if c["assistant_id"] else "помощник по уходу",
                      "ippsuServiceUuid": s_uid}
                     for c in reports.get(s["supplement_id"], []) if c["service_code"] == r["service_code"]]
            out_services.append({
                "ippsuUuid": i_uid, "uuid": s_uid, "lmszUuid": codes.get(("lmsz", r["service_code"])),
                "startDate": s["start_date"], "endDate": end, "amount": r["minutes_per_week"], "price": PRICE_FREE,
                **unit, "providers": [(object_uuid("provider", s["provider_id"]), True)] if s["provider_id"] else [],
                "plans": plans, "facts": facts})
    form = {"home": "на дому", "semi_residential": "в полустационарной форме", "residential": "в стационарной форме"}
    return {"typificationUuid": typification_uuid, "uuid": i_uid, "number": i["number"],
            "resolutionDate": i["issue_date"], "careForm": codes.get(("care_form", i["form_of_service"])),
            "supplyConditions": f"Социальный пакет долговременного ухода {form.get(i['form_of_service'], '')}".strip(),
            "statuses": statuses, "services": out_services}


def _add_months(d: dt.date, n: int) -> dt.date:
    y, m = divmod(d.month - 1 + n, 12)
    day = min(d.day, [31, 29 if (d.year + y) % 4 == 0 else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m])
    return dt.date(d.year + y, m + 1, day)


# ---- building and checking ------------------------------------------------------------------------------------
def content_hash(r: dict) -> tuple[str, int]:
    """What a recipient says, as ЕГИССО would receive it: the hash of its element, and its size in bytes."""
    data = etree.tostring(documents.recipient(documents.holder(), r), method="c14n")
    return hashlib.sha256(data).hexdigest(), len(data)


def packages(ready: list, invalidations: list[dict], most: int, most_bytes: int) -> list[tuple[list, list]]:
    """Recipients (with their sizes) and withdrawals in packages of at most `most` each and about
    `most_bytes` of recipients (one recipient larger than that still goes, alone)."""
    out, chunk, weight = [], [], 0
    for item in ready:
        size = item[2]
        if chunk and (len(chunk) == most or weight + size > most_bytes):
            out.append(chunk)
            chunk, weight = [], 0
        chunk.append(item)
        weight += size
    if chunk:
        out.append(chunk)
    n = max(len(out), -(-len(invalidations) // most))
    out += [[] for _ in range(n - len(out))]
    return [(c, invalidations[i * most:(i + 1) * most]) for i, c in enumerate(out)]


def check_one(r: dict) -> list[str]:
    """The schema's messages for a recipient alone (a package of one); empty when it is valid."""
    return documents.problems(documents.package(str(uuidlib.uuid4()), [r]))


@dataclass
class ExportResult:
    packages: list[dict] = field(default_factory=list)
    unchanged: int = 0
    held: list[tuple[str, list[str]]] = field(default_factory=list)   # (register id, the schema's messages)
    withdrawn: int = 0

    @property
    def sent(self) -> int:
        return sum(p["records"] for p in self.packages)


def export(out_dir: Path, run_id: str, since: dt.datetime | None = None, send=None) -> ExportResult:
    """Build, check and write the packages of what changed; `send(package_id, folder, document bytes)`
    hands each to a transport (returns the client id it went out under) — None: files only."""
    sqlmodels.refresh_configuration()
    res = ExportResult()
    with db.transaction() as conn, conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(hashtext('ltc_egisso_export'))")  # one export at a time
        sqlmodels.apply_views(cur)
        recipients = read_recipients(cur)
        cur.execute("SELECT object_uuid::text, object_key, content_hash, status, accepted_hash, accepted_at, reason "
                    "FROM audit.egisso_object WHERE doc_type = %s", (DOC_TYPE,))
        known = {u: dict(zip(("key", "hash", "status", "accepted_hash", "accepted_at", "reason"), rest))
                 for u, *rest in cur.fetchall()}
        ready, current = [], set()
        for r in recipients:
            current.add(r["uuid"])
            h, weight = content_hash(r)
            k = known.get(r["uuid"])
            resend = since is not None and k and k["accepted_at"] and k["accepted_at"] >= since
            if k and not resend and (h == k["accepted_hash"] or (h == k["hash"] and k["status"] in
                                                                  ("held", "rejected", "sent"))):
                res.unchanged += 1
                continue
            found = check_one(r)
            if found:
                res.held.append((r["key"], found))
                _object(cur, r["uuid"], r["key"], h, None, "held", "; ".join(found[:5]))
                continue
            ready.append((r, h, weight))
        # recipients ЕГИССО holds that the register no longer has (a card deleted, a person merged into another)
        gone = [(u, k) for u, k in known.items() if u not in current and k["accepted_hash"]
                and not (k["status"] == "sent" and k["reason"] == WITHDRAWAL)]  # (one in flight is not sent twice)
        invalidations = [{"actionUuid": object_uuid("invalidation", f"{u}/{dt.date.today()}"), "recipientUuid": u,
                          "updateDate": dt.datetime.now(documents.MOSCOW),
                          "excludeDescription": "Сведения о получателе удалены или объединены с другой записью регистра"}
                         for u, _ in gone]
        cfg = settings.current()
        for chunk, withdraw in packages(ready, invalidations, cfg.egisso_package_size,
                                        cfg.egisso_package_mb * 1024 * 1024):
            pkg_id = str(uuidlib.uuid4())
            doc = documents.package(pkg_id, [r for r, *_ in chunk], withdraw)
            found = documents.problems(doc)
            if found:  # each recipient passed alone: a package failing whole is a fault of ours, said loudly
                raise RuntimeError(f"package {pkg_id} fails the schema: {'; '.join(found[:3])}")
            folder = Path(out_dir) / f"{DOC_TYPE}-{pkg_id}"
            data = documents.serialize(doc)
            _write_package(folder, pkg_id, data, [r for r, *_ in chunk], withdraw)
            cur.execute("INSERT INTO audit.egisso_package (package_id, doc_type, run_id, records, folder, status) "
                        "VALUES (%s, %s, %s, %s, %s, 'written')", (pkg_id, DOC_TYPE, run_id, len(chunk), str(folder)))
            for r, h, _ in chunk:
                _object(cur, r["uuid"], r["key"], h, pkg_id, "sent", None)
            for inv in withdraw:
                cur.execute("UPDATE audit.egisso_object SET package_id = %s, status = 'sent', reason = %s,"
                            " content_hash = NULL, updated_at = now() WHERE doc_type = %s AND object_uuid = %s",
                            (pkg_id, WITHDRAWAL, DOC_TYPE, inv["recipientUuid"]))
            res.withdrawn += len(withdraw)
            res.packages.append({"package_id": pkg_id, "folder": str(folder), "records": len(chunk),
                                 "withdrawn": len(withdraw)})
    for p in res.packages:  # handed to the transport only once written and recorded (committed above)
        if send is not None:
            client_id = send(p["package_id"], Path(p["folder"]), (Path(p["folder"]) / f"{DOC_TYPE}.xml").read_bytes())
            with db.transaction() as conn, conn.cursor() as cur:
                cur.execute("UPDATE audit.egisso_package SET status = 'sent', client_id = %s, sent_at = now() "
                            "WHERE package_id = %s", (client_id, p["package_id"]))
            p["client_id"] = client_id
    return res


def _object(cur, uid: str, key: str, h: str | None, package_id: str | None, status: str, reason: str | None) -> None:
    cur.execute("""INSERT INTO audit.egisso_object (doc_type, object_uuid, object_key, content_hash, package_id, status,
                       reason) VALUES (%s, %s, %s, %s, %s, %s, %s)
                   ON CONFLICT (doc_type, object_uuid) DO UPDATE SET object_key = excluded.object_key,
                       content_hash = excluded.content_hash, package_id = excluded.package_id, status = excluded.status,
                       reason = excluded.reason, updated_at = now()""",
                (DOC_TYPE, uid, key, h, package_id, status, reason))


def _write_package(folder: Path, pkg_id: str, data: bytes, recipients: list[dict], withdrawn: list[dict]) -> None:
    """The document and its manifest, written whole or not at all (a temporary folder renamed)."""
    tmp = folder.with_name(folder.name + ".tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / f"{DOC_TYPE}.xml").write_bytes(data)
    manifest = {"package_id": pkg_id, "message": DOC_TYPE, "schema": "10.42.I-1.0.0.xsd (ЕГИССО 23.12.0)",
                "created_at": dt.datetime.now(documents.MOSCOW).isoformat(timespec="seconds"),
                "recipients": [r["uuid"] for r in recipients], "withdrawn": [w["recipientUuid"] for w in withdrawn],
                "file": f"{DOC_TYPE}.xml", "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    (tmp / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    if folder.exists():
        import shutil

        shutil.rmtree(folder)
    tmp.rename(folder)


# ---- the answer ---------------------------------------------------------------------------------------------------
@dataclass
class Reconciled:
    package_id: str
    status: str
    accepted: int
    rejected: dict[str, list[str]]   # register id → ЕГИССО's reasons


def apply_answer(package_id: str, data: bytes) -> Reconciled:
    """Reconcile a package with ЕГИССО's answer: its processing protocol (the protocol itself, or the SMEV
    response holding it), or SMEV's rejection of the whole message (ResponseContent/rejects)."""
    from connectors.common import parse_xml_bytes

    root = parse_xml_bytes(data)
    rejects = [" ".join(t.strip() for t in r.itertext() if t.strip()) for r in root.iter("{*}rejects")]
    proto = documents.Protocol(message_errors=rejects) if rejects else documents.parse_protocol(data)
    return _reconcile(package_id, proto)


def _reconcile(package_id: str, proto: "documents.Protocol") -> Reconciled:
    """The records ЕГИССО refused keep their reasons (sent again once corrected), the others' content is
    what ЕГИССО holds now; the watermark moves when anything was accepted. A whole message refused
    accepts nothing."""
    if proto.package_id and proto.package_id.lower() != package_id.lower():
        raise ValueError(f"the protocol is of package {proto.package_id}, not {package_id}")
    with db.transaction() as conn, conn.cursor() as cur:
        cur.execute("SELECT status FROM audit.egisso_package WHERE package_id = %s FOR UPDATE", (package_id,))
        row = cur.fetchone()
        if row is None:
            raise ValueError(f"no package {package_id} was exported")
        cur.execute("SELECT object_uuid::text, object_key, reason FROM audit.egisso_object WHERE doc_type = %s "
                    "AND package_id = %s", (DOC_TYPE, package_id))
        members = {u: (k, why) for u, k, why in cur.fetchall()}
        if proto.refused_whole:
            reasons = {u: proto.message_errors for u in members}
        else:
            reasons = {u: proto.rejected[u] for u in members if u in proto.rejected}
            reasons.update({u: m for u, m in proto.rejected.items() if u not in members})  # a record of ours, or not
        accepted = [u for u in members if u not in reasons]
        for u in accepted:
            if members[u][1] == WITHDRAWAL:  # a withdrawal accepted: ЕГИССО holds nothing of it any more
                cur.execute("DELETE FROM audit.egisso_object WHERE doc_type = %s AND object_uuid = %s", (DOC_TYPE, u))
                continue
            cur.execute("UPDATE audit.egisso_object SET status = 'accepted', accepted_hash = content_hash, "
                        "accepted_at = now(), reason = NULL, updated_at = now() WHERE doc_type = %s AND object_uuid = %s",
                        (DOC_TYPE, u))
        for u, messages in reasons.items():
            cur.execute("UPDATE audit.egisso_object SET status = 'rejected', reason = %s, updated_at = now() "
                        "WHERE doc_type = %s AND object_uuid = %s", ("; ".join(messages)[:2000], DOC_TYPE, u))
        status = "rejected" if not accepted else ("accepted" if not reasons else "partly_accepted")
        cur.execute("UPDATE audit.egisso_package SET status = %s, answered_at = now(), accepted = %s, rejected = %s, "
                    "message = %s WHERE package_id = %s",
                    (status, len(accepted), len(reasons), "; ".join(proto.message_errors)[:2000] or None, package_id))
        if accepted:
            cur.execute("""INSERT INTO audit.egisso_watermark (doc_type, accepted_at, package_id) VALUES (%s, now(), %s)
                           ON CONFLICT (doc_type) DO UPDATE SET accepted_at = excluded.accepted_at,
                           package_id = excluded.package_id""", (DOC_TYPE, package_id))
    return Reconciled(package_id, status, len(accepted),
                      {members.get(u, (u, None))[0]: m for u, m in reasons.items()})


def pending() -> list[tuple[str, str | None, str | None]]:
    """Packages sent and not yet answered: (package id, the transport's client id, folder)."""
    with db.transaction() as conn, conn.cursor() as cur:
        cur.execute("SELECT package_id::text, client_id, folder FROM audit.egisso_package WHERE status = 'sent' "
                    "ORDER BY created_at")
        return cur.fetchall()


# ---- delivery over SMEV ---------------------------------------------------------------------------------------
def adapter(url: str | None = None, it_system: str | None = None):
    """The SMEV adapter client the packages go through (LTC_EGISSO_ADAPTER_URL, LTC_EGISSO_IT_SYSTEM), or None."""
    from connectors.smev.transport import AdapterClient

    cfg = settings.current()
    url, it_system = url or cfg.egisso_adapter_url, it_system or cfg.egisso_it_system
    if not url:
        return None
    if not it_system:
        raise ValueError("an SMEV adapter needs the register's IT system code (LTC_EGISSO_IT_SYSTEM, --it-system)")
    return AdapterClient(url, it_system)


def sender(client):
    """What export() hands each package to: the adapter, under the package's own id as the client id."""
    def send(package_id: str, folder: Path, data: bytes) -> str:
        client.send(package_id, data)
        return package_id
    return send


def collect_answers(client) -> list[Reconciled]:
    """Read the answers to the packages sent and not yet answered; each is kept beside its package
    (answer.xml) before it is reconciled."""
    from connectors.http import store_durably

    out = []
    for package_id, client_id, folder in pending():
        data = client.response_to(client_id or package_id)
        if data is None:
            continue
        if folder:
            store_durably(Path(folder), "answer.xml", data)
        out.append(apply_answer(package_id, data))
    return out
