"""OPTIMA export over HTTP: paged, incremental by a since-watermark (docs/formats/optima.md).

`GET {base}/api/v1/export/{table}?since=W&limit=N[&cursor=C]` answers
`{"table": …, "rows": [{column: value}], "next_cursor": C | null, "watermark": W'}`: the rows changed
after W, page by page; W' (from the last page) is where the next pull starts. A pull turns the pages
into an ordinary bundle (manifest with row counts and sha256), stores it durably in the landing
folder, lands it like any bundle, and only then moves the watermarks — so a crash anywhere means the
same rows are fetched again, and re-landing them adds nothing (content hashes).
"""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import logging
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import requests

from connectors.http import retrying_session, store_durably
from connectors.optima.bundle import TABLES, timestamp

# streams a server of an earlier format does not have (404): deletions came with 1.1, the ИППСУ, the
# supplement's services and the providers with 1.2
OPTIONAL_STREAMS = {"deletions", "supplement_services", "ippsu", "providers"}

log = logging.getLogger(__name__)
SOURCE_STREAM = "optima_api"
MAX_PAGES = 100_000


class ExportError(RuntimeError):
    """The export API answered something we cannot use: nothing is stored, watermarks stay."""


@dataclass
class ExportClient:
    base_url: str
    token: str | None = None
    timeout: tuple[float, float] = (5.0, 120.0)
    page_size: int = 5000
    retries: int = 3
    backoff: float = 0.5
    session: requests.Session = field(default=None)

    def __post_init__(self):
        self.session = self.session or retrying_session(self.retries, self.backoff)

    def pages(self, table: str, since: str | None) -> Iterator[tuple[list[dict], str | None]]:
        cursor = None
        for _ in range(MAX_PAGES):
            params = {"limit": self.page_size, **({"since": since} if since else {}),
                      **({"cursor": cursor} if cursor else {})}
            headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
            r = self.session.get(f"{self.base_url.rstrip('/')}/api/v1/export/{table}", params=params,
                                 headers=headers, timeout=self.timeout)
            if r.status_code == 404 and table in OPTIONAL_STREAMS:
                return  # a server without a deletions stream has nothing deleted to tell
            if r.status_code != 200:
                raise ExportError(f"{table}: HTTP {r.status_code}: {r.text[:300]}")
            try:
                page = r.json()
                rows, cursor, watermark = page["rows"], page.get("next_cursor"), page.get("watermark")
            except (ValueError, KeyError, TypeError) as e:
                raise ExportError(f"{table}: not an export page ({e})") from None
            if not isinstance(rows, list) or not all(isinstance(x, dict) for x in rows):
                raise ExportError(f"{table}: rows must be a list of objects")
            yield rows, watermark
            if not cursor:
                return
        raise ExportError(f"{table}: more than {MAX_PAGES} pages")


@dataclass
class PullResult:
    rows: dict[str, int] = field(default_factory=dict)
    bundle: Path | None = None
    status: str = "nothing_new"
    watermarks: dict[str, str] = field(default_factory=dict)


def build_bundle(tables: dict[str, list[dict]], export_id: str, period_to: str) -> bytes:
    manifest = {"export_id": export_id, "system": "ЕИС ОПТИМА (HTTP API)", "format_version": "1.1",
                "period_to": period_to, "files": []}
    try:  # the server's watermark, when it is a time: when these rows were current (orders their versions)
        manifest["exported_at"] = timestamp(period_to).isoformat()
    except (TypeError, ValueError):
        pass
    blobs = {}
    for name, rows in tables.items():
        header: list[str] = []
        for row in rows:
            header += [k for k in row if k not in header]
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(header)
        w.writerows([["" if row.get(k) is None else row.get(k) for k in header] for row in rows])
        data = buf.getvalue().encode("utf-8")
        blobs[name] = data
        manifest["files"].append({"name": name, "rows": len(rows), "sha256": hashlib.sha256(data).hexdigest()})
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as z:
        members = [("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=1).encode())] + list(blobs.items())
        for name, data in members:  # fixed timestamps: the same rows make the same bytes (skipped on re-pull)
            z.writestr(zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0)), data, zipfile.ZIP_DEFLATED)
    return out.getvalue()


def pull(client: ExportClient, landing: Path, store: Callable[[Path], object], watermarks: dict[str, str | None],
         save_watermarks: Callable[[dict[str, str], object], None]) -> PullResult:
    """Fetch every table since its watermark; land one bundle; then save the new watermarks."""
    result = PullResult()
    tables, new_marks = {}, {}
    for filename in TABLES:
        table = filename.removesuffix(".csv")
        rows_all, mark = [], watermarks.get(table)
        for rows, watermark in client.pages(table, watermarks.get(table)):
            rows_all += rows
            mark = watermark or mark
        result.rows[table] = len(rows_all)
        if rows_all:
            tables[filename] = rows_all
        if mark and mark != watermarks.get(table):
            new_marks[table] = mark
    if not tables:
        if new_marks:
            save_watermarks(new_marks, None)
        result.watermarks = new_marks
        return result
    content = json.dumps({k: v for k, v in sorted(tables.items())}, sort_keys=True, default=str).encode()
    stamp = max(new_marks.values(), default=dt.datetime.now(dt.timezone.utc).isoformat())
    export_id = f"OPTIMA-API-{hashlib.sha256(content).hexdigest()[:16]}"
    data = build_bundle(tables, export_id, stamp)
    result.bundle = store_durably(landing, f"{export_id}.zip", data)
    landed = store(result.bundle)
    result.status = getattr(landed, "status", "loaded")
    if result.status not in ("loaded", "skipped"):
        raise ExportError(f"bundle {result.bundle.name} not landed: {getattr(landed, 'reason', '')} "
                          f"{getattr(landed, 'detail', '')}")
    save_watermarks(new_marks, landed)
    result.watermarks = new_marks
    return result


def load_watermarks(cur) -> dict[str, str]:
    cur.execute("SELECT stream, watermark FROM audit.source_watermark WHERE source = %s", (SOURCE_STREAM,))
    return dict(cur.fetchall())


def save_watermarks(cur, marks: dict[str, str], batch_id: int | None) -> None:
    for stream, mark in marks.items():
        cur.execute("""INSERT INTO audit.source_watermark (source, stream, watermark, batch_id) VALUES (%s, %s, %s, %s)
            ON CONFLICT (source, stream) DO UPDATE SET watermark = excluded.watermark, batch_id = excluded.batch_id,
                updated_at = now()""", (SOURCE_STREAM, stream, mark, batch_id))
