"""What every connector shares: the record it yields, file rejection, field casting, safe XML."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import zipfile
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Callable, Iterator

from lxml import etree

from etl.base import duckpipe, normalize

MAX_FILE_BYTES = 2 * 1024**3  # a single source file larger than this is refused outright
MAX_ROW_BYTES = 2 * 1024**2   # one table row or register case larger than this refuses its file: no extract has one
# ZIP containers (OPTIMA bundles, XLSX workbooks), checked before a byte is unpacked: what a member and the
# whole may unpack to, and by how much a member may grow (sheets and CSV compress 5–30×; Apache POI
# refuses past 100× too). A 1 MB workbook whose sheet unpacked to 1 GiB took the loader to 2.25 GB.
ZIP_MAX_MEMBER_BYTES = 1024**3
ZIP_MAX_TOTAL_BYTES = MAX_FILE_BYTES
ZIP_MAX_RATIO = 100
_ZIP_RATIO_FROM = 1 << 20     # a small member may compress far better (a sheet of empty cells)


@dataclass(slots=True)
class SourceRecord:
    """One record read from a source: staged when `values` is set, quarantined when `reason` is."""

    entity: str            # target staging table, e.g. "health_referral"
    locator: str           # where it was in the file: row number, message id, record number
    payload: str           # the record as read, for the raw landing layer
    values: dict | None = None
    reason: str | None = None
    detail: str | None = None

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.payload.encode("utf-8", "surrogatepass")).hexdigest()


class FileRejected(Exception):
    """The whole file is refused (wrong format, failed manifest, unreadable): nothing of it is staged."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail

    def __reduce__(self):  # raised in worker processes too: picklable with both arguments
        return type(self), (self.reason, self.detail)


class CastError(ValueError):
    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def row_payload(fields: dict) -> str:
    return json.dumps(fields, ensure_ascii=False, sort_keys=False)


def check_zip(z: zipfile.ZipFile, what: str) -> None:
    """Refuse a ZIP container that would unpack past the limits above. The sizes are those the archive
    declares: Python's zipfile stops a member at its declared size (and then fails its CRC), so a member
    that lies about its size cannot unpack further than it says."""
    total = 0
    for info in z.infolist():
        if info.file_size > ZIP_MAX_MEMBER_BYTES:
            raise FileRejected("zip_too_large", f"{what}: a member unpacks to {info.file_size} bytes"
                                                f" (limit {ZIP_MAX_MEMBER_BYTES})")
        if info.file_size > _ZIP_RATIO_FROM and info.file_size > ZIP_MAX_RATIO * max(info.compress_size, 1):
            raise FileRejected("zip_bomb", f"{what}: a member unpacks {info.file_size // max(info.compress_size, 1)}"
                                           f" times its packed size (limit {ZIP_MAX_RATIO})")
        total += info.file_size
    if total > ZIP_MAX_TOTAL_BYTES:
        raise FileRejected("zip_too_large", f"{what}: unpacks to {total} bytes in all (limit {ZIP_MAX_TOTAL_BYTES})")


# ---- field casting --------------------------------------------------------------------------
def as_text(v):
    if v is None:
        return None
    text = v.strip() if isinstance(v, str) else str(v).strip()
    if "\x00" in text:
        text = text.replace("\x00", "").strip()
    return text or None


def as_date(v):
    return normalize.parse_date(as_text(v))


def as_int(v):
    text = as_text(v)
    if text is None:
        return None
    if text.endswith(".0"):
        text = text[:-2]
    return int(text.replace(" ", ""))


def as_decimal(v):
    text = as_text(v)
    if text is None:
        return None
    try:
        return Decimal(text.replace(",", ".").replace(" ", ""))
    except InvalidOperation as e:
        raise ValueError(f"not a number: {v!r}") from e


def as_sex(v):
    text = as_text(v)
    if text is None:
        return None
    sex = normalize.normalize_sex(text)
    if sex is None:
        raise ValueError(f"unknown sex code {v!r}")
    return sex


def as_bool(v):
    text = (as_text(v) or "").lower()
    if text in ("да", "1", "true", "t", "y", "yes", "д", "+"):
        return True
    if text in ("нет", "0", "false", "f", "n", "no", "н", "-", ""):
        return False
    raise ValueError(f"not a yes/no value: {v!r}")


CASTS: dict[str, Callable] = {"text": as_text, "date": as_date, "int": as_int, "decimal": as_decimal,
                              "sex": as_sex, "bool": as_bool}


def cast_fields(raw: dict, spec: dict[str, tuple[str, bool]]) -> dict:
    """Cast raw strings by a {field: (type, required)} spec; raise CastError on the first failure."""
    out = {}
    for name, (kind, required) in spec.items():
        value = raw.get(name)
        if kind == "snils":
            continue
        try:
            out[name] = CASTS[kind](value)
        except (ValueError, TypeError) as e:
            raise CastError(f"bad_{kind}", f"{name}: {e}") from None
        if required and out[name] is None:
            raise CastError("missing_required", f"{name} is empty")
    return out


def cast_person(raw: dict, out: dict, on: dt.date | None = None) -> dict:
    """Identity fields shared by every person-bearing record; SNILS kept raw when invalid (flag, not reject)."""
    snils_raw = as_text(raw.get("snils"))
    snils, _problem = normalize.normalize_snils(snils_raw)
    out["snils"] = snils
    out["snils_raw"] = snils_raw if snils is None else None
    for part in ("surname", "first_name", "patronymic"):
        out[part] = normalize.clean_name(as_text(raw.get(part)))
    if out.get("sex") is None:
        out["sex"] = normalize.sex_from_patronymic(out["patronymic"])
    if not out["surname"] or not out["first_name"]:
        raise CastError("missing_identity", "surname and first name are required")
    birth = out.get("birth_date")
    if birth is None:
        raise CastError("missing_identity", "birth date is required")
    ref = on or dt.date.today()
    if birth > ref or birth.year < 1890:
        raise CastError("implausible_birth_date", f"birth date {birth} against {ref}")
    return out


# ---- XML --------------------------------------------------------------------------------------
def safe_xml_parser() -> etree.XMLParser:
    """No DTDs, no entity expansion, no network: XXE and billion-laughs inputs fail instead of expanding."""
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                           huge_tree=False, remove_comments=True)


_XMLNS = re.compile(rb'(xmlns(?::[^=\s]+)?\s*=\s*)(["\'])([^"\']*)\2')


def _encode_iri(m) -> bytes:
    from urllib.parse import quote

    return m[1] + m[2] + quote(m[3], safe=b":/?#[]@!$&()*+,;=%-._~").encode() + m[2]


def parse_xml_bytes(data: bytes) -> etree._Element:
    if b"<!DOCTYPE" in data[:4096] or b"<!ENTITY" in data[:65536]:
        raise FileRejected("dtd_forbidden", "document type declarations and entities are not accepted")
    try:
        root = etree.fromstring(data, safe_xml_parser())
    except etree.XMLSyntaxError as e:
        if "is not a valid URI" not in str(e):
            raise FileRejected("malformed_xml", str(e)) from None
        # Russian federal formats use Cyrillic namespace names (http://пф.рф/…): an IRI, which
        # libxml2 refuses as a URI. Percent-encoding them keeps every name's meaning (we match
        # elements by local name) and the document's bytes otherwise untouched.
        try:
            root = etree.fromstring(_XMLNS.sub(_encode_iri, data), safe_xml_parser())
        except etree.XMLSyntaxError as e2:
            raise FileRejected("malformed_xml", str(e2)) from None
    if root is None:
        raise FileRejected("empty_file", "no XML document")
    return root


def local(tag) -> str:
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""  # comments and PIs have no name


def child(el, name: str):
    """First direct child with this local name, whatever its namespace (versions differ)."""
    if el is None:
        return None
    suffix = "}" + name
    for c in el:
        tag = c.tag
        if tag == name or (isinstance(tag, str) and tag.endswith(suffix)):
            return c
    return None


def descendant(el, name: str):
    if el is None:
        return None
    for c in el.iter():
        if local(c.tag) == name:
            return c
    return None


def text_of(el, *path: str) -> str | None:
    for name in path:
        el = child(el, name)
        if el is None:
            return None
    text = (el.text or "").strip()
    return text or None


# ---- tables for the set-based landing engine (etl/landing/tabular.py) ----------------------------
@dataclass(frozen=True)
class TableSpec:
    """What a source's table means, as data the landing engine reads (it knows no source by name):
    each field's kind and whether it is required, the code lists, checks and staging columns of its own."""
    entity: str                                   # the staging table, staging.<entity>
    fields: dict[str, tuple[str, bool]]           # field → (kind, required); kinds: CASTS, "text", "code:<map>"
    code_maps: dict[str, tuple[dict, str | None]] = field(default_factory=dict)  # map → (codes, default)
    # (condition, reason, detail) in SQL over the typed row, after the shared identity checks; {today}
    # stands for the run's date
    checks: tuple[tuple[str, str, str], ...] = ()
    staged: dict[str, str] = field(default_factory=dict)  # staging column → expression, beyond the fields
    # cells under medical secrecy: field → a staging column (above) that is true where the cell may not be
    # kept; there the cell is blanked in the raw and quarantine payloads too (the content hash is of the
    # record as read, so duplicates are still found)
    secret: dict[str, str] = field(default_factory=dict)


@dataclass
class Table:
    """A table opened and checked, ready to be landed (etl/landing/tabular.py).

    `rows` yields (row number, cells) for every non-blank row; `direct` describes a CSV file that
    DuckDB may read itself, the fast path when every row is well formed.
    """
    spec: TableSpec
    header: list[str]
    fields: list[str | None]                  # canonical field per column, None for unknown columns
    rows: Callable[[], Iterator[tuple[int, list[str]]]]
    direct: dict | None = None                # {path, encoding, delimiter, skip}: a CSV DuckDB may read itself
    # A source that is not a table (ОМС registers): reader(con, cells) creates the DuckDB table `land`
    # itself, with reasons found while reading in `pre_reason`/`pre_detail` and the hash of each record as
    # read in `content_hash`; `record_payloads(seq, …,
    # payload)` and `record_stream(locator, content_hash, payload)`: the records as read, read from where
    # they are kept when needed (they are the bulk of the bytes).
    reader: Callable | None = None
    source_time: str | None = None            # when the source made the file, ISO (an ОМС register's ZGLV/DATA)

    @property
    def entity(self) -> str:
        return self.spec.entity


def own_csv(path: Path | list[Path], types: dict[str, str]) -> str:
    """read_csv() of CSV files a connector or the loader wrote itself; read it through read_own_csv."""
    return duckpipe.own_csv(path, types, MAX_ROW_BYTES)


def read_own_csv(con, statement: str) -> None:
    """Run a statement reading a CSV we wrote ourselves; a row over MAX_ROW_BYTES rejects the file clearly."""
    import duckdb

    try:
        con.execute(statement)
    except duckdb.Error as e:
        if not duckpipe.line_too_long(e):
            raise
        raise FileRejected("row_too_large", f"a record is larger than {MAX_ROW_BYTES >> 20} MB") from None
