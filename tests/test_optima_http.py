"""The OPTIMA export API client against a real local HTTP server (not a mock of requests): paging,
the since-watermark, retries, and watermarks that move only after the data is landed."""
import csv
import io
import json
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

from connectors.optima.api import ExportClient, ExportError
from etl.orchestration import pipeline
from tests.conftest import query


class ExportServer:
    """Serves the tables of a generated OPTIMA bundle; every row has an `updated_at`."""

    def __init__(self, tables: dict[str, list[dict]], page_size_cap: int = 50):
        self.tables, self.cap, self.fail_next, self.garbage, self.requests = tables, page_size_cap, 0, False, []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                url = urlparse(self.path)
                q = {k: v[0] for k, v in parse_qs(url.query).items()}
                outer.requests.append((url.path, q))
                if outer.fail_next:
                    outer.fail_next -= 1
                    self.send_response(503)
                    self.end_headers()
                    return
                table = url.path.rsplit("/", 1)[-1]
                rows = sorted((r for r in outer.tables.get(table, []) if r["updated_at"] > q.get("since", "")),
                              key=lambda r: (r["updated_at"], json.dumps(r, sort_keys=True)))
                start, limit = int(q.get("cursor", 0)), min(int(q.get("limit", 100)), outer.cap)
                page = rows[start:start + limit]
                body = b"<html>oops" if outer.garbage else json.dumps({
                    "table": table, "rows": page,
                    "next_cursor": str(start + limit) if start + limit < len(rows) else None,
                    "watermark": max((r["updated_at"] for r in rows), default=q.get("since"))}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


def bundle_tables(region) -> dict[str, list[dict]]:
    """The tables of the region's first OPTIMA export (not its correction), every row with an `updated_at`."""
    out, _ = region
    [bundle] = (out / "optima").glob("*[0-9].zip")
    tables = {}
    with zipfile.ZipFile(bundle) as z:
        for name in z.namelist():
            if name.endswith(".csv"):
                rows = list(csv.DictReader(io.StringIO(z.read(name).decode("utf-8"))))
                for i, r in enumerate(rows):
                    r["updated_at"] = f"2025-12-{1 + i % 28:02d}T10:00:00"
                tables[name.removesuffix(".csv")] = rows
    return tables


@pytest.fixture
def server(region):
    srv = ExportServer(bundle_tables(region))
    yield srv
    srv.httpd.shutdown()


def test_pull_pages_lands_and_moves_watermarks_only_forward(clean_db, server, tmp_path):
    total = sum(len(v) for v in server.tables.values())
    first = pipeline.pull_optima(server.url, "t1", landing=tmp_path)
    assert first["status"] == "loaded" and sum(first["rows"].values()) == total
    pages = [q for p, q in server.requests if p.endswith("/care_reports")]
    assert len(pages) == -(-len(server.tables["care_reports"]) // 50)  # paged by the server's cap
    staged = query("SELECT (SELECT count(*) FROM staging.optima_recipient), (SELECT count(*) FROM staging.optima_staff)")
    assert staged == [(len(server.tables["recipients"]), len(server.tables["staff"]))]
    marks = dict(query("SELECT stream, watermark FROM audit.source_watermark"))
    assert marks["recipients"] == max(r["updated_at"] for r in server.tables["recipients"])
    # nothing changed on the server: the next pull asks since the watermark and lands nothing
    server.requests.clear()
    again = pipeline.pull_optima(server.url, "t2", landing=tmp_path)
    assert again["status"] == "nothing_new" and again["bundle"] is None
    asked = {}
    for path, q in server.requests:
        asked.setdefault(path.rsplit("/", 1)[-1], set()).add(q.get("since"))
    # every stream asked, each with its own mark (one that never had a row: from the beginning)
    assert set(marks) <= set(asked) and len(marks) >= 8
    assert asked == {stream: {marks.get(stream)} for stream in asked}
    # one recipient is updated: only that row comes, in a new bundle
    changed = dict(server.tables["recipients"][0], updated_at="2026-01-05T08:00:00", phone="+79990000000")
    server.tables["recipients"].append(changed)
    third = pipeline.pull_optima(server.url, "t3", landing=tmp_path)
    assert third["rows"]["recipients"] == 1 and sum(third["rows"].values()) == 1
    assert query("SELECT count(*) FROM staging.optima_recipient WHERE phone = '+79990000000'") == [(1,)]
    assert dict(query("SELECT stream, watermark FROM audit.source_watermark"))["recipients"] == "2026-01-05T08:00:00"


def test_retries_transient_errors_and_keeps_watermarks_on_bad_answers(clean_db, server, tmp_path):
    server.fail_next = 2  # two 503s, then the real answer: retried with backoff
    out = pipeline.pull_optima(server.url, "t1", landing=tmp_path)
    assert out["status"] == "loaded"
    marks = query("SELECT stream, watermark FROM audit.source_watermark ORDER BY 1")
    server.tables["recipients"].append(dict(server.tables["recipients"][0], updated_at="2026-02-01T00:00:00"))
    server.garbage = True
    with pytest.raises(ExportError, match="not an export page"):
        pipeline.pull_optima(server.url, "t2", landing=tmp_path)
    assert query("SELECT stream, watermark FROM audit.source_watermark ORDER BY 1") == marks
    server.garbage = False
    client = ExportClient(server.url, retries=0)
    server.fail_next = 1
    with pytest.raises(ExportError, match="HTTP 503"):
        list(client.pages("recipients", None))
