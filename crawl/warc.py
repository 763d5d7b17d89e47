"""WARC archive: write every response we receive, read them back by URL.

Archiving is what makes a crawl reproducible: the replay server and the archive
transport serve these records, so a pipeline can be re-run on an exact snapshot and
tests run offline. Payloads are stored as received on the wire (content-encoding
kept, transfer chunking removed) so a replay exercises the same decoding path.
Secrets never reach the archive: credential headers are dropped on write.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from crawl.urls import canonicalize

# Header names (lower-case) that carry credentials or session state.
SECRET_HEADERS = frozenset(
    {
        "authorization", "proxy-authorization", "cookie", "set-cookie", "set-cookie2",
        "x-api-key", "api-key", "x-auth-token", "x-csrf-token", "x-amz-security-token",
    }
)
# Hop-by-hop framing that no longer matches the stored (de-chunked) payload.
FRAMING_HEADERS = frozenset({"transfer-encoding", "connection", "keep-alive"})


def scrub_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Without secrets, transfer framing, or our own replay markers (x-seekforge-*)."""
    return [(k, v) for k, v in headers if k.lower() not in SECRET_HEADERS and k.lower() not in FRAMING_HEADERS
            and not k.lower().startswith("x-seekforge-")]


@dataclass(slots=True)
class ArchivedResponse:
    url: str  # WARC-Target-URI as recorded
    status: int
    reason: str
    headers: list[tuple[str, str]]  # as recorded (content-encoding intact)
    payload: bytes  # entity body as stored (still content-encoded if it was on the wire)
    date: str = ""

    def header(self, name: str, default: str = "") -> str:
        low = name.lower()
        for k, v in self.headers:
            if k.lower() == low:
                return v
        return default


class WarcWriter:
    """Append-only WARC.gz writer; safe to call from the event loop (writes are small).

    A lock serialises writers from the browser's and the fetcher's tasks; each record
    is its own gzip member, so a crash mid-crawl leaves every finished record readable.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "ab")
        self._writer = WARCWriter(self._fh, gzip=True)
        self._lock = threading.Lock()
        self.records = 0
        # Exchanges that could not be archived. The crawl keeps the page, but "every crawl
        # replays exactly" no longer holds, so the caller must fail loudly when this is > 0.
        self.failures = 0
        self.last_error = ""

    def note_failure(self, url: str, exc: BaseException) -> None:
        with self._lock:
            self.failures += 1
            self.last_error = f"{url}: {type(exc).__name__}: {exc}"[:500]

    def write_exchange(
        self,
        url: str,
        *,
        method: str,
        request_headers: Iterable[tuple[str, str]],
        status: int,
        reason: str,
        response_headers: Iterable[tuple[str, str]],
        payload: bytes,
        truncated: str | None = None,
        date: datetime | None = None,
    ) -> None:
        warc_date = (date or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
        http_headers = StatusAndHeaders(f"{status} {reason or 'OK'}".strip(), scrub_headers(response_headers), protocol="HTTP/1.1")
        warc_headers = {"WARC-Date": warc_date}
        if truncated:
            warc_headers["WARC-Truncated"] = truncated
        response = self._writer.create_warc_record(
            url, "response", payload=io.BytesIO(payload), http_headers=http_headers, warc_headers_dict=warc_headers
        )
        path = url.split("://", 1)[-1].split("/", 1)
        target = "/" + (path[1] if len(path) > 1 else "")
        req_headers = StatusAndHeaders(f"{method} {target} HTTP/1.1", scrub_headers(request_headers), is_http_request=True)
        request = self._writer.create_warc_record(
            url, "request", payload=io.BytesIO(b""), http_headers=req_headers, warc_headers_dict={"WARC-Date": warc_date}
        )
        request.rec_headers.add_header("WARC-Concurrent-To", response.rec_headers.get_header("WARC-Record-ID"))
        with self._lock:
            self._writer.write_record(response)
            self._writer.write_record(request)
            self._fh.flush()
            self.records += 1

    def close(self) -> None:
        with self._lock:
            if not self._fh.closed:
                self._fh.close()

    def __enter__(self) -> WarcWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _to_archived(record) -> ArchivedResponse:
    url = record.rec_headers.get_header("WARC-Target-URI") or ""
    http = record.http_headers
    status_line = (http.statusline or "200 OK").split(" ", 1)
    try:
        status = int(status_line[0])
    except ValueError:
        status = 0
    payload = record.raw_stream.read()
    headers = [(k, v) for k, v in http.headers if k.lower() not in FRAMING_HEADERS]
    return ArchivedResponse(
        url=url,
        status=status,
        reason=status_line[1] if len(status_line) > 1 else "",
        headers=headers,
        payload=payload,
        date=record.rec_headers.get_header("WARC-Date") or "",
    )


def iter_responses(path: str | Path) -> Iterator[ArchivedResponse]:
    """Yield every HTTP response record of a WARC / WARC.gz, in file order."""
    with open(path, "rb") as fh:
        for record in ArchiveIterator(fh, no_record_parse=False):
            if record.rec_type == "response" and record.http_headers is not None:
                yield _to_archived(record)


class WarcIndex:
    """Look up archived responses by canonical URL, reading records lazily.

    Only (file, offset) pairs are kept in memory, so a 90 MB archive of Wikipedia
    costs a few hundred KB of index; recently served records sit in a small LRU.
    When a URL was archived more than once, the last record wins (latest crawl).
    """

    def __init__(self, paths: Sequence[str | Path], cache_size: int = 256) -> None:
        self.paths = [Path(p) for p in paths]
        self._offsets: dict[str, tuple[int, int]] = {}
        self._lru: OrderedDict[str, ArchivedResponse] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        for file_no, path in enumerate(self.paths):
            if not path.exists():
                raise FileNotFoundError(f"WARC file not found: {path}")
            with open(path, "rb") as fh:
                it = ArchiveIterator(fh)
                for record in it:
                    if record.rec_type != "response":
                        continue
                    key = canonicalize(record.rec_headers.get_header("WARC-Target-URI") or "")
                    if key:
                        self._offsets[key] = (file_no, it.get_record_offset())

    def __len__(self) -> int:
        return len(self._offsets)

    def __contains__(self, url: str) -> bool:
        key = canonicalize(url)
        return key is not None and key in self._offsets

    def urls(self) -> list[str]:
        return list(self._offsets)

    def get(self, url: str) -> ArchivedResponse | None:
        key = canonicalize(url)
        if key is None:
            return None
        with self._lock:
            hit = self._lru.get(key)
            if hit is not None:
                self._lru.move_to_end(key)
                return hit
        loc = self._offsets.get(key)
        if loc is None:
            return None
        file_no, offset = loc
        with open(self.paths[file_no], "rb") as fh:
            fh.seek(offset)
            record = next(iter(ArchiveIterator(fh)))
            found = _to_archived(record)
        with self._lock:
            self._lru[key] = found
            if len(self._lru) > self._cache_size:
                self._lru.popitem(last=False)
        return found
