"""EIS "OPTIMA"-style export bundles of the regional LTC information system.

A bundle is a ZIP with `manifest.json` (export id, period, files with row counts and sha256) and
one UTF-8 CSV per table. The manifest is verified before anything is read: a bundle that fails it
is rejected whole. Format: docs/formats/optima.md.
"""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import zipfile
import zlib
from pathlib import Path
from typing import Iterator

from connectors.common import (MAX_FILE_BYTES, CastError, FileRejected, SourceRecord, cast_fields, cast_person,
                               check_zip, row_payload)
from etl.base import normalize


TABLES = {  # file in the bundle → (staging entity, field spec, person-bearing)
    "recipients.csv": ("optima_recipient", {
        "recipient_id": ("text", True), "sex": ("sex", False), "birth_date": ("date", True),
        "address": ("text", False), "oktmo": ("text", False), "phone": ("text", False),
        "priority_category": ("text", False), "identified_channel": ("text", False),
        "identified_date": ("date", False), "status": ("text", True), "status_date": ("date", False),
        "exit_reason": ("text", False),
        # format 1.2: what the recipient's record in ЕГИССО needs besides (docs/formats/egisso.md)
        "birth_place": ("text", False), "citizenship": ("text", False), "email": ("text", False),
        "doc_type": ("text", False), "doc_series": ("text", False), "doc_number": ("text", False),
        "doc_date": ("date", False), "doc_issuer": ("text", False), "doc_issuer_code": ("text", False)}, True),
    "assessments.csv": ("optima_assessment", {
        "assessment_id": ("text", True), "recipient_id": ("text", True), "assessment_date": ("date", True),
        "care_level": ("int", False), "typing_group": ("int", False), "points": ("decimal", False)}, False),
    "supplements.csv": ("optima_supplement", {
        "supplement_id": ("text", True), "recipient_id": ("text", True), "assessment_id": ("text", False),
        "care_level": ("int", True), "minutes_per_week": ("int", True), "provider_id": ("text", False),
        "start_date": ("date", True), "end_date": ("date", False),
        # format 1.2: the ИППСУ it supplements; the need as assessed (may pass the cap) and whether
        # residential care was offered where it passes 28 hours a week
        "ippsu_id": ("text", False), "need_minutes_per_week": ("int", False),
        "residential_offered": ("bool", False)}, False),
    # format 1.2: the care services of a supplement (its schedule), one row per service of the catalogue
    "supplement_services.csv": ("optima_supplement_service", {
        "supplement_id": ("text", True), "service_code": ("text", True), "visits_per_day": ("int", True),
        "days_per_week": ("int", True), "minutes_per_visit": ("int", False)}, False),
    # format 1.2: the individual programme (ИППСУ) and the providers that serve it
    "ippsu.csv": ("optima_ippsu", {
        "ippsu_id": ("text", True), "recipient_id": ("text", True), "assessment_id": ("text", False),
        "number": ("text", True), "issue_date": ("date", True), "form_of_service": ("text", True),
        "provider_id": ("text", False), "end_date": ("date", False)}, False),
    "providers.csv": ("optima_provider", {
        "provider_id": ("text", True), "name": ("text", True), "inn": ("text", False),
        "ownership": ("text", True), "oktmo": ("text", False)}, False),
    "care_reports.csv": ("optima_care_report", {
        "report_id": ("text", True), "supplement_id": ("text", True), "recipient_id": ("text", True),
        "month": ("date", True), "service_code": ("text", True), "minutes_delivered": ("int", True),
        "assistant_id": ("text", False)}, False),
    "contracts.csv": ("optima_contract", {
        "contract_id": ("text", True), "recipient_id": ("text", True), "supplement_id": ("text", False),
        "provider_id": ("text", False), "contract_date": ("date", True), "start_date": ("date", True),
        "end_date": ("date", False)}, False),
    "staff.csv": ("optima_staff", {
        "staff_id": ("text", True), "role": ("text", True), "provider_id": ("text", False), "oktmo": ("text", False),
        "hire_date": ("date", True), "leave_date": ("date", False), "is_relative": ("bool", False),
        "relative_recipient_id": ("text", False), "previously_unemployed": ("bool", False),
        "kept_main_job": ("bool", False)}, False),
    "rentals.csv": ("optima_rental", {
        "rental_id": ("text", True), "point_id": ("text", True), "oktmo": ("text", False),
        "recipient_id": ("text", False), "item_code": ("text", True), "requested_date": ("date", True),
        "issued_date": ("date", False), "returned_date": ("date", False)}, False),
    "care_school.csv": ("optima_care_school", {
        "training_id": ("text", True), "school_id": ("text", True), "oktmo": ("text", False),
        "trainee_kind": ("text", True), "recipient_id": ("text", False), "training_date": ("date", True),
        "hours": ("decimal", False)}, False),
    # keys the export says were deleted or cancelled in ОПТИМА: the record leaves the current layer
    "deletions.csv": ("optima_deletion", {
        "table": ("text", True), "record_id": ("text", True), "deleted_on": ("date", False),
        "reason": ("text", False)}, False),
}
# a table's name in deletions.csv (its file without .csv) → its staging entity
ENTITY_OF_TABLE = {name.removesuffix(".csv"): entity for name, (entity, _, _) in TABLES.items()
                   if entity != "optima_deletion"}
STAFF_ROLES = {"care_assistant", "care_organiser", "needs_expert"}
TRAINEE_KINDS = {"relative", "care_assistant", "other"}
FORMS_OF_SERVICE = {"home", "semi_residential", "residential"}  # ЕГИССО careForm: на дому, полустационарная, стационарная
OWNERSHIP = {"state", "non_state"}


def read_manifest(z: zipfile.ZipFile) -> dict:
    try:
        manifest = json.loads(z.read("manifest.json").decode("utf-8"))
    except KeyError:
        raise FileRejected("manifest_missing", "the bundle has no manifest.json") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise FileRejected("manifest_invalid", f"manifest.json is not valid JSON: {e}") from None
    if not manifest.get("export_id") or not isinstance(manifest.get("files"), list):
        raise FileRejected("manifest_invalid", "manifest needs export_id and files")
    if manifest.get("exported_at") is not None:
        try:
            manifest["exported_at"] = timestamp(manifest["exported_at"])
        except (TypeError, ValueError):
            raise FileRejected("manifest_invalid", "exported_at is not an ISO date and time") from None
    return manifest


def timestamp(text: str) -> dt.datetime:
    """An ISO date or date and time; without a zone it is Moscow time, as ОПТИМА keeps it."""
    value = dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone(dt.timedelta(hours=3)))


def source_time(path: Path) -> dt.datetime | None:
    """When the export was made (the manifest's exported_at), for ordering versions of the same keys."""
    with zipfile.ZipFile(path) as z:
        return read_manifest(z).get("exported_at")


def verify(z: zipfile.ZipFile, manifest: dict) -> dict[str, bytes]:
    """Check every listed file's size, sha256 and row count; return the verified contents."""
    contents = {}
    for entry in manifest["files"]:
        name = entry.get("name")
        try:
            info = z.getinfo(name)
        except KeyError:
            raise FileRejected("manifest_mismatch", f"{name} is listed but not in the bundle") from None
        try:
            data = z.read(name)
        except (zipfile.BadZipFile, zlib.error, EOFError) as e:  # damaged, or its size lied (CRC)
            raise FileRejected("not_a_bundle", f"{name} cannot be unpacked: {type(e).__name__}") from None
        if hashlib.sha256(data).hexdigest() != entry.get("sha256"):
            raise FileRejected("checksum_mismatch", f"{name}: sha256 differs from the manifest")
        if entry.get("rows") is not None and (n := _count_rows(data)) != int(entry["rows"]):
            raise FileRejected("row_count_mismatch", f"{name}: {n} rows, manifest says {entry['rows']}")
        contents[name] = data
    unlisted = {n for n in z.namelist() if n != "manifest.json"} - set(contents)
    if unlisted:
        raise FileRejected("manifest_mismatch", f"files not in the manifest: {', '.join(sorted(unlisted))}")
    return contents


def _count_rows(data: bytes) -> int:
    return max(sum(1 for _ in csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""))) - 1, 0)


def parse(path: Path) -> Iterator[SourceRecord]:
    path = Path(path)
    if path.stat().st_size > MAX_FILE_BYTES:
        raise FileRejected("file_too_large", f"{path.stat().st_size} bytes")
    try:
        z = zipfile.ZipFile(path)
    except zipfile.BadZipFile as e:
        raise FileRejected("not_a_bundle", f"not a ZIP file: {e}") from None
    with z:
        check_zip(z, path.name)
        manifest = read_manifest(z)
        contents = verify(z, manifest)
    export_id = manifest["export_id"]
    today = dt.date.today()
    for name, data in contents.items():
        if name not in TABLES:
            raise FileRejected("unknown_table", f"{name} is not a known OPTIMA table")
        entity, spec, person = TABLES[name]
        reader = csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""))
        header = next(reader, None)
        if header is None:
            continue
        missing = {f for f, (_, req) in spec.items() if req} - set(header)
        if person:
            missing |= {"surname", "first_name"} - set(header)
        if missing:
            raise FileRejected("missing_columns", f"{name}: no column for {', '.join(sorted(missing))}")
        for rowno, row in enumerate(reader, start=2):
            raw = dict(zip(header, row))
            rec = SourceRecord(entity, f"{name}:{rowno}", row_payload(raw))
            if len(row) != len(header):
                rec.reason, rec.detail = "malformed_row", f"{len(row)} fields, header has {len(header)}"
                yield rec
                continue
            try:
                values = cast_fields(raw, spec)
                if person:
                    cast_person(raw, values, today)
                values["export_id"] = export_id
                check(entity, values)
                rec.values = values
            except CastError as e:
                rec.reason, rec.detail = e.reason, e.detail
            yield rec


def check(entity: str, v: dict) -> None:
    """Hard validation that makes a row unusable (soft rules are expectations, not quarantine)."""
    if entity == "optima_assessment" and v["care_level"] not in (None, 1, 2, 3):
        raise CastError("bad_care_level", f"care level {v['care_level']}")
    if entity == "optima_supplement":
        if v["care_level"] not in (1, 2, 3):
            raise CastError("bad_care_level", f"care level {v['care_level']}")
        if v["minutes_per_week"] < 0:
            raise CastError("negative_minutes", str(v["minutes_per_week"]))
        if v["end_date"] and v["end_date"] < v["start_date"]:
            raise CastError("inconsistent_dates", f"ends {v['end_date']} before it starts {v['start_date']}")
    if entity == "optima_staff":
        if v["role"] not in STAFF_ROLES:
            raise CastError("unknown_code", f"role {v['role']!r} (expected {', '.join(sorted(STAFF_ROLES))})")
        if v["leave_date"] and v["leave_date"] < v["hire_date"]:
            raise CastError("inconsistent_dates", f"leaves {v['leave_date']} before hired {v['hire_date']}")
        v["is_relative"] = bool(v["is_relative"])
    if entity == "optima_care_school" and v["trainee_kind"] not in TRAINEE_KINDS:
        raise CastError("unknown_code", f"trainee kind {v['trainee_kind']!r}")
    if entity == "optima_rental":
        if v["issued_date"] and v["issued_date"] < v["requested_date"]:
            raise CastError("inconsistent_dates", f"issued {v['issued_date']} before requested {v['requested_date']}")
        if v["returned_date"] and (not v["issued_date"] or v["returned_date"] < v["issued_date"]):
            raise CastError("inconsistent_dates", "returned before it was issued")
    if entity == "optima_contract" and v["end_date"] and v["end_date"] < v["start_date"]:
        raise CastError("inconsistent_dates", f"ends {v['end_date']} before it starts {v['start_date']}")
    if entity == "optima_deletion":
        if v["table"] not in ENTITY_OF_TABLE:
            raise CastError("unknown_code", f"table {v['table']!r} (expected {', '.join(sorted(ENTITY_OF_TABLE))})")
        v["entity"] = ENTITY_OF_TABLE[v["table"]]
    if entity == "optima_supplement":
        if v["need_minutes_per_week"] is not None and v["need_minutes_per_week"] < 0:
            raise CastError("negative_minutes", f"need {v['need_minutes_per_week']}")
        v["residential_offered"] = bool(v["residential_offered"]) if v["residential_offered"] is not None else None
    if entity == "optima_supplement_service":
        # the schedule's frame (the limits of a level are rules, checked as expectations)
        if not 1 <= v["visits_per_day"] <= 24 or not 1 <= v["days_per_week"] <= 7:
            raise CastError("bad_schedule", f"{v['visits_per_day']} visits a day on {v['days_per_week']} days a week")
        if v["minutes_per_visit"] is not None and v["minutes_per_visit"] <= 0:
            raise CastError("bad_schedule", f"{v['minutes_per_visit']} minutes a visit")
    if entity == "optima_ippsu":
        if v["form_of_service"] not in FORMS_OF_SERVICE:
            raise CastError("unknown_code", f"form of service {v['form_of_service']!r}"
                                            f" (expected {', '.join(sorted(FORMS_OF_SERVICE))})")
        if v["end_date"] and v["end_date"] < v["issue_date"]:
            raise CastError("inconsistent_dates", f"ends {v['end_date']} before it was issued {v['issue_date']}")
    if entity == "optima_provider":
        if v["ownership"] not in OWNERSHIP:
            raise CastError("unknown_code", f"ownership {v['ownership']!r} (expected {', '.join(sorted(OWNERSHIP))})")
        if v["inn"] is not None and not normalize.inn_is_valid(v["inn"]):
            raise CastError("bad_inn", "not 10 or 12 digits with valid check digits")
    if entity == "optima_care_report":
        if v["minutes_delivered"] < 0:
            raise CastError("negative_minutes", str(v["minutes_delivered"]))
        v["month"] = v["month"].replace(day=1)
