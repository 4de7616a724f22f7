"""HTTP and landing helpers shared by the connectors that pull from other systems (SMEV adapter,
OPTIMA export API): a session with timeouts' companion — retries with backoff — and durable writes."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry


def retrying_session(retries: int = 3, backoff: float = 0.5) -> requests.Session:
    """Retries connection errors and 429/5xx answers with exponential backoff (any method: our
    requests are idempotent — reads, or acknowledgements the other side de-duplicates)."""
    session = requests.Session()
    retry = Retry(total=retries, connect=retries, read=retries, status=retries, backoff_factor=backoff,
                  status_forcelist=(429, 500, 502, 503, 504), allowed_methods=None, raise_on_status=False)
    session.mount("http://", HTTPAdapter(max_retries=retry))
    session.mount("https://", HTTPAdapter(max_retries=retry))
    return session


def store_durably(folder: Path, name: str, data: bytes) -> Path:
    """Write, fsync and rename into place: a crash leaves either the whole file or none."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".incoming-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return target


