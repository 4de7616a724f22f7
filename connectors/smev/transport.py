"""Pulling SMEV 3 messages from an SMEV adapter over HTTP, acknowledging only what is stored.

Protocol (adapter schema `urn://x-artefacts-smev-gov-ru/services/service-adapter/types`):
`MessageQuery{itSystem}` returns the next message of the system's queue (`QueryResult`) or nothing;
`MessageResult{itSystem, MessageId}` confirms its receipt. Each message is written to the landing
folder (fsync + atomic rename) and landed in the database in its own transaction *before* it is
acknowledged; a message that could not be stored stays unacknowledged and is delivered again.
Re-delivery is harmless: the same bytes are skipped as already loaded.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import requests
from lxml import etree

from connectors.common import FileRejected, descendant, parse_xml_bytes
from connectors.http import retrying_session, store_durably
from connectors.smev.messages import mtom_root
from etl.base import redact

log = logging.getLogger(__name__)

ADAPTER_NS = "urn://x-artefacts-smev-gov-ru/services/service-adapter/types"
SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
MAX_MESSAGE_BYTES = 256 * 1024**2


def _envelope(body: str) -> bytes:
    return (f'<soap:Envelope xmlns:soap="{SOAP_NS}" xmlns:tns="{ADAPTER_NS}"><soap:Body>{body}'
            f"</soap:Body></soap:Envelope>").encode("utf-8")


@dataclass
class AdapterClient:
    url: str
    it_system: str
    timeout: tuple[float, float] = (5.0, 60.0)   # connect, read
    retries: int = 3
    backoff: float = 0.5
    session: requests.Session = field(default=None)

    def __post_init__(self):
        if self.session is None:
            self.session = retrying_session(self.retries, self.backoff)

    def _post(self, body: str) -> requests.Response:
        r = self.session.post(self.url, data=_envelope(body), timeout=self.timeout, stream=True,
                              headers={"Content-Type": "text/xml; charset=utf-8"})
        data = r.raw.read(MAX_MESSAGE_BYTES + 1, decode_content=True)
        if len(data) > MAX_MESSAGE_BYTES:
            raise FileRejected("message_too_large", f"more than {MAX_MESSAGE_BYTES} bytes from the adapter")
        r._content = data
        if r.status_code >= 400:
            raise requests.HTTPError(f"adapter answered {r.status_code}: {data[:300]!r}", response=r)
        return r

    def get(self) -> tuple[str, bytes, str | None] | None:
        """The next queued message as (message id, raw bytes, content type), or None when the queue is empty."""
        r = self._post(f"<tns:MessageQuery><tns:itSystem>{self.it_system}</tns:itSystem></tns:MessageQuery>")
        content_type = r.headers.get("Content-Type")
        root = parse_xml_bytes(mtom_root(r.content, content_type if "multipart" in (content_type or "") else None))
        result = descendant(root, "QueryResult")
        if result is None or descendant(result, "Message") is None:
            return None
        mid = descendant(result, "MessageId")
        if mid is None or not (mid.text or "").strip():
            raise FileRejected("no_message_id", "adapter message without MessageId")
        return mid.text.strip(), etree.tostring(root, encoding="utf-8", xml_declaration=True), content_type

    def ack(self, message_id: str) -> None:
        self._post(f"<tns:MessageResult><tns:itSystem>{self.it_system}</tns:itSystem>"
                   f"<tns:MessageId>{message_id}</tns:MessageId></tns:MessageResult>")

    def send(self, client_id: str, content: bytes) -> None:
        """Send a request (ClientMessage/RequestMessage) whose primary content is the XML document `content`,
        under our own client id — what its answer is later found by."""
        document = etree.tostring(parse_xml_bytes(content), encoding="unicode")  # (its root: no declaration)
        self._post(f"<tns:ClientMessage><tns:itSystem>{self.it_system}</tns:itSystem><tns:RequestMessage>"
                   f"<tns:RequestMetadata><tns:clientId>{client_id}</tns:clientId></tns:RequestMetadata>"
                   f"<tns:RequestContent><tns:content><tns:MessagePrimaryContent>{document}"
                   f"</tns:MessagePrimaryContent></tns:content></tns:RequestContent></tns:RequestMessage>"
                   f"</tns:ClientMessage>")

    def response_to(self, client_id: str) -> bytes | None:
        """The answer to our request `client_id` (its ResponseMessage, as bytes), or None while there is none."""
        r = self._post(f"<tns:FindMessageQuery><tns:itSystem>{self.it_system}</tns:itSystem><tns:specificQuery>"
                       f"<tns:messageClientIdCriteria><tns:clientId>{client_id}</tns:clientId>"
                       f"<tns:clientIdCriteria>GET_RESPONSE_BY_REQUEST_CLIENTID</tns:clientIdCriteria>"
                       f"</tns:messageClientIdCriteria></tns:specificQuery></tns:FindMessageQuery>")
        content_type = r.headers.get("Content-Type")
        root = parse_xml_bytes(mtom_root(r.content, content_type if "multipart" in (content_type or "") else None))
        for result in root.iter("{*}QueryResult"):
            message = descendant(result, "ResponseMessage")
            if message is not None:
                return etree.tostring(message, encoding="utf-8")
        return None


@dataclass
class PollResult:
    received: int = 0
    acknowledged: int = 0
    failed: list[str] = field(default_factory=list)


def poll(client: AdapterClient, landing: Path, store: Callable[[Path], object], max_messages: int = 1000) -> PollResult:
    """Fetch up to max_messages; land each (file + `store`, e.g. the database loader) before acknowledging."""
    out = PollResult()
    for _ in range(max_messages):
        got = client.get()
        if got is None:
            break
        message_id, data, _ = got
        out.received += 1
        try:
            path = store_durably(landing, f"adapter_{message_id}.xml", data)
            result = store(path)
            if getattr(result, "status", "loaded") not in ("loaded", "skipped", "rejected"):
                raise RuntimeError(f"not stored: {result}")
        except Exception as e:  # not stored: do not acknowledge; SMEV will deliver it again
            log.error("message %s not stored, left unacknowledged: %s", message_id, redact.safe_message(e))
            out.failed.append(f"{message_id}: {redact.safe_message(e)}")
            break
        client.ack(message_id)
        out.acknowledged += 1
    return out
