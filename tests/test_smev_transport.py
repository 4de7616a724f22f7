"""SMEV adapter polling against a real local HTTP server serving the reference samples."""
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from lxml import etree

from connectors.smev.transport import ADAPTER_NS, AdapterClient, poll
from etl.landing import load
from tests.conftest import REFERENCE, query

ZAGS = REFERENCE / "smev3/samples/zags-fataloiv/GetRequestResponse-zagsFatalOivProducerRequest.xml"


def adapter_message(message_id: str) -> bytes:
    """A QueryResult as the adapter returns it, carrying the reference ЗАГС registry as content."""
    return adapter_envelope(message_id, etree.parse(str(ZAGS)))


def adapter_envelope(message_id: str, message) -> bytes:
    """A QueryResult as the adapter returns it, carrying the primary content of an SMEV message (a tree)."""
    content = message.find(".//{*}MessagePrimaryContent")
    payload = etree.tostring(content[0], encoding="unicode")
    return (f'<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
            f'<soap:Body><QueryResult xmlns="{ADAPTER_NS}"><smevMetadata><MessageId>{message_id}</MessageId>'
            f'<Sender>ZAGS01</Sender></smevMetadata><Message><RequestMessage><RequestContent><content>'
            f'<MessagePrimaryContent>{payload}</MessagePrimaryContent></content></RequestContent></RequestMessage>'
            f'</Message></QueryResult></soap:Body></soap:Envelope>').encode("utf-8")


class FakeAdapter:
    """The adapter's queue semantics: a message is served until it is acknowledged."""

    def __init__(self, messages, fail_first=0):
        self.queue = list(messages)
        self.acked, self.stored_at_ack, self.requests = [], [], 0
        self.fail_first = fail_first
        adapter = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                adapter.requests += 1
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if adapter.fail_first > 0:
                    adapter.fail_first -= 1
                    self.send_response(503)
                    self.end_headers()
                    return
                root = etree.fromstring(body)
                if root.find(".//{*}MessageResult") is not None:
                    mid = root.find(".//{*}MessageId").text
                    # acknowledged only once the message is in the database
                    adapter.stored_at_ack.append(query(
                        "SELECT count(*) FROM raw.record WHERE locator LIKE %s", (mid + "/%",))[0][0])
                    adapter.acked.append(mid)
                    adapter.queue = [(m, d) for m, d in adapter.queue if m != mid]
                    out = b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body/></soap:Envelope>'
                elif adapter.queue:
                    out = adapter.queue[0][1]
                else:
                    out = (f'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
                           f'<QueryResult xmlns="{ADAPTER_NS}"/></soap:Body></soap:Envelope>').encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/xml; charset=utf-8")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/adapter"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.reference
def test_poll_stores_then_acknowledges_with_retries(clean_db, tmp_path):
    msgs = [(f"00000000-0000-4000-8000-00000000000{i}", adapter_message(f"00000000-0000-4000-8000-00000000000{i}"))
            for i in (1, 2)]
    with FakeAdapter(msgs, fail_first=2) as fake:  # two 503s first: the client retries with backoff
        client = AdapterClient(fake.url, "LTC36001", timeout=(2, 5), backoff=0.01)
        result = poll(client, tmp_path / "landing", lambda p: load.ingest_file("smev", p))
    assert (result.received, result.acknowledged, result.failed) == (2, 2, [])
    assert fake.acked == [m for m, _ in msgs] and fake.queue == []
    assert fake.stored_at_ack == [1, 1]
    # both messages carry the same death record: staged once, the repeat kept as a duplicate
    assert query("SELECT count(*) FROM staging.smev_death")[0][0] == 1
    assert query("SELECT reason_code FROM quarantine.record") == [("duplicate_record",)]
    assert len(list((tmp_path / "landing").glob("adapter_*.xml"))) == 2


@pytest.mark.reference
def test_message_not_stored_is_not_acknowledged(clean_db, tmp_path):
    mid = "00000000-0000-4000-8000-0000000000aa"

    def broken_store(path):
        raise OSError("database unavailable")

    with FakeAdapter([(mid, adapter_message(mid))]) as fake:
        result = poll(AdapterClient(fake.url, "LTC36001", timeout=(2, 5)), tmp_path / "l", broken_store)
        assert result.acknowledged == 0 and result.failed and fake.acked == []
        assert [m for m, _ in fake.queue] == [mid]  # still queued: SMEV delivers it again
        again = poll(AdapterClient(fake.url, "LTC36001", timeout=(2, 5)), tmp_path / "l",
                     lambda p: load.ingest_file("smev", p))
    assert again.acknowledged == 1 and fake.acked == [mid]


def test_empty_queue(clean_db, tmp_path):
    with FakeAdapter([]) as fake:
        result = poll(AdapterClient(fake.url, "LTC36001", timeout=(2, 5)), tmp_path, lambda p: None)
    assert (result.received, result.acknowledged) == (0, 0)


def test_unreachable_adapter_raises_after_retries(tmp_path):
    import requests

    client = AdapterClient("http://127.0.0.1:9/adapter", "LTC36001", timeout=(0.5, 0.5), retries=1, backoff=0.01)
    with pytest.raises(requests.ConnectionError):
        poll(client, tmp_path, lambda p: None)
