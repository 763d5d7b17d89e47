"""A search engine on 127.0.0.1 for the fault suite: real results, with failures on demand.

It speaks both HTTP engines the agent supports, so a run reaches it through the same seam
production uses (``AgentToolsResource.search_backend`` = ``serper`` or ``searxng`` with
``search_base_url``): Serper's ``POST /search`` (``X-API-KEY``, ``{"q", "num"}`` ->
``{"organic": [...]}``) and SearxNG's ``GET /search?q=...&format=json`` (->
``{"results": [...]}``). The results come from the run's own BM25 index
(``<data>/search_index/bm25``, loaded at the first query, which the rollouts send only
after the ``search_index`` asset wrote it), so a healthy query answers exactly what the
local backend would.

``api_key``: Serper requests with another key get 403, as Serper answers a bad key.
``fail(query) -> status | None``: queries that get this HTTP status instead of results.

Usage::

    with FaultySearchServer(data_dir, api_key="right", fail=lambda q: 503 if "Ada" in q else None) as engine:
        ...  # resources.agent_tools.config: search_backend serper, search_base_url engine.url
        engine.requests  # [(query, status answered)]
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit


class FaultySearchServer:
    def __init__(self, data_dir: Path, *, api_key: str | None = None,
                 fail: Callable[[str], int | None] | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.api_key = api_key
        self.fail = fail or (lambda query: None)
        self.requests: list[tuple[str, int]] = []
        self._index: Any = None
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._httpd is not None, "use `with FaultySearchServer(...)`"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def statuses(self) -> dict[int, int]:
        with self._lock:
            counts: dict[int, int] = {}
            for _, status in self.requests:
                counts[status] = counts.get(status, 0) + 1
            return counts

    def _search(self, query: str, k: int) -> list[dict[str, str]]:
        from crawl.search_index import SearchIndex

        with self._lock:
            if self._index is None:
                self._index = SearchIndex.load(self.data_dir / "search_index" / "bm25")
            index = self._index
        return [{"title": h.title, "url": h.url, "snippet": h.snippet} for h in index.search(query, k)]

    def answer(self, engine: str, query: str, k: int, key: str | None) -> tuple[int, dict[str, Any]]:
        """(status, JSON body) for one query to ``engine`` (serper | searxng)."""
        if engine == "serper" and self.api_key is not None and key != self.api_key:
            status, body = 403, {"message": "Unauthorized.", "statusCode": 403}
        elif (injected := self.fail(query)) is not None:
            status, body = injected, {"error": f"injected {injected}"}
        else:
            hits = self._search(query, k)
            if engine == "serper":
                status, body = 200, {"organic": [{"title": h["title"], "link": h["url"], "snippet": h["snippet"]}
                                                 for h in hits]}
            else:
                status, body = 200, {"results": [{"title": h["title"], "url": h["url"], "content": h["snippet"]}
                                                 for h in hits]}
        with self._lock:
            self.requests.append((query, status))
        return status, body

    def __enter__(self) -> FaultySearchServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet test output
                pass

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # SearxNG
                parts = urlsplit(self.path)
                params = parse_qs(parts.query)
                if parts.path != "/search" or params.get("format") != ["json"]:
                    self._send(404, {"error": "not found"})
                    return
                self._send(*server.answer("searxng", params.get("q", [""])[0], 10, None))

            def do_POST(self) -> None:  # Serper
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    payload = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    self._send(400, {"error": "body is not JSON"})
                    return
                if urlsplit(self.path).path != "/search":
                    self._send(404, {"error": "not found"})
                    return
                self._send(*server.answer("serper", str(payload.get("q", "")), int(payload.get("num") or 10),
                                          self.headers.get("X-API-KEY")))

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, name="fault-search", daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
