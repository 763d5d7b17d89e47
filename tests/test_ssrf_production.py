"""The SSRF guard in the production profile: redirects and DNS answers that lead inside.

A production crawl (``resources_for("production")`` with ``pipelines/configs/production.yaml``
on top: mode ``http``, empty allow-list) must never connect to a non-public address:
not when a public-looking name resolves there, not when a redirect points there (as a
literal or by name, on any hop), not when a name's DNS answer flips between two lookups
(rebinding). ``test_netguard.py`` covers ``NetworkPolicy.resolve`` on its own; these tests
drive the real ``Fetcher`` and the real crawl entry point with the production settings
objects and read a real server's request log.

Nothing but 127.0.0.1 is reachable here, so two narrow seams stand in for the internet:

* DNS: the policy's own resolver hook, ``NetworkPolicy(resolver=FakeDns(...))``; the
  allow-list is still the production one (empty).
* The wire: ``GuardedTransport(policy, inner=Sinkhole(...))``. The guard resolves, checks
  and pins the IP exactly as in production; only the socket layer under it is swapped.
  The sinkhole records the address the guard handed down and delivers *every* request
  to the hostile server on 127.0.0.1, as if every address on the internet answered. So
  ``public.test`` (pinned to 93.184.216.34) reaches the server, and a request the guard
  wrongly let through would show up in the server's log (and the sinkhole's) instead of
  dying quietly as a connect error.

One test uses no seam at all: the production ``run_crawl`` with the system resolver
against the hostile server, reachable on loopback, under several spellings of it.
"""

import asyncio
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
import yaml

import crawl.fetcher as fetcher_module
import crawl.session as session_module
import hostile_server as hs
from assets.crawl import WebPagesConfig
from assets.resources import CrawlerResource
from crawl.crawler import CrawlSettings
from crawl.fetcher import Fetcher, FetchResult, FetchSettings, Outcome
from crawl.netguard import NetworkPolicy
from crawl.session import SourceSettings, crawl_async, run_crawl
from crawl.transports import GuardedTransport
from crawl.urls import canonicalize
from hostile_server import HostileServer, RequestRecord
from pipelines.resources import resources_for

PRODUCTION_YAML = Path(__file__).resolve().parents[1] / "pipelines" / "configs" / "production.yaml"

PUBLIC_IP = "93.184.216.34"  # what every "public" test name resolves to
REBIND_PUBLIC_IP = "93.184.216.36"  # rebind.test's first answer
REBIND_PRIVATE_IP = "10.66.0.7"  # ... and every later one
PUBLIC_IPS = frozenset({PUBLIC_IP, REBIND_PUBLIC_IP})
REDIRECT_TO = "/redirect-to"


# --------------------------------------------------------------------- production settings


@dataclass(frozen=True)
class Production:
    source: SourceSettings
    fetch: FetchSettings
    crawl: CrawlSettings


@pytest.fixture(scope="module")
def production() -> Production:
    """Exactly what ``web_pages`` gets in production: the profile's CrawlerResource with the
    run config's ``resources.crawler.config`` on top, and the ``web_pages`` frontier."""
    crawler = resources_for("production")["crawler"]
    assert isinstance(crawler, CrawlerResource)
    run_config = yaml.safe_load(PRODUCTION_YAML.read_text())
    overrides = ((run_config.get("resources") or {}).get("crawler") or {}).get("config") or {}
    crawler = CrawlerResource(**{**crawler.model_dump(), **overrides})
    web_pages = ((run_config.get("ops") or {}).get("web_pages") or {}).get("config") or {}
    return Production(crawler.source_settings(), crawler.fetch_settings(),
                      crawler.crawl_settings(WebPagesConfig(**web_pages).frontier()))


def test_production_profile_is_live_web_with_empty_allow_list(production: Production) -> None:
    """The premise of every other test here: production crawls the live web through the
    guard with nothing allow-listed. If this changes, the tests below test something else."""
    assert production.source.mode == "http"
    assert tuple(production.source.allow_networks) == ()
    assert production.fetch.respect_robots and production.fetch.max_redirects > 0
    assert NetworkPolicy.from_strings(production.source.allow_networks).allow == ()


# ------------------------------------------------------------------------------- seams


class FakeDns:
    """A resolver for ``NetworkPolicy(resolver=...)``: ``host -> [answer, answer, ...]``.

    Each lookup gets the next answer (a list of addresses) and the last one repeats, so
    ``[[public], [private]]`` is a rebinding name. Unknown names are NXDOMAIN. Every lookup
    is recorded in ``lookups``."""

    def __init__(self, answers: Mapping[str, Sequence[Sequence[str]]]) -> None:
        self.answers = dict(answers)
        self.lookups: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        n = self.lookups.count(host)
        self.lookups.append(host)
        if host not in self.answers:
            raise OSError(f"NXDOMAIN {host}")
        seq = self.answers[host]
        return list(seq[min(n, len(seq) - 1)])


@dataclass(frozen=True)
class Connection:
    ip: str  # the URL host the guard handed down: must be the pinned, checked IP
    host_header: str
    path: str


class Sinkhole(httpx.AsyncBaseTransport):
    """The socket layer under ``GuardedTransport``: records where the guard sent each request,
    then delivers it to the hostile server on 127.0.0.1:<port> whatever the address."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.connections: list[Connection] = []
        self._wire = httpx.AsyncHTTPTransport(retries=0)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.connections.append(Connection(request.url.host, request.headers.get("host", ""), request.url.path))
        request.url = request.url.copy_with(scheme="http", host="127.0.0.1", port=self.port)
        return await self._wire.handle_async_request(request)

    async def aclose(self) -> None:
        await self._wire.aclose()

    def assert_only_checked_public_ips(self) -> None:
        """Pinning: every connection went to an address the guard checked, never to a name
        (which the OS would resolve again) or a private address."""
        bad = [c for c in self.connections if c.ip not in PUBLIC_IPS]
        assert not bad, f"connections the guard should have refused or pinned: {bad}"


class RedirectingServer(HostileServer):
    """The hostile server plus ``/redirect-to?url=<target>`` (a 302 to any target): its own
    redirects only point at literals and ``localhost``; DNS-name and rebinding targets need
    a free Location."""

    async def _dispatch(self, rec: RequestRecord, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        if rec.path == REDIRECT_TO:
            return await self._redirect(writer, rec, parse_qs(rec.query)["url"][0])
        return await super()._dispatch(rec, reader, writer)


@pytest.fixture
def server() -> Iterator[RedirectingServer]:
    with RedirectingServer() as srv:
        yield srv


def redirect_to(host: str, target: str) -> str:
    return f"http://{host}{REDIRECT_TO}?{urlencode({'url': target})}"


def served(server: HostileServer) -> list[tuple[str, str]]:
    """(Host header without port, path) of every request the server received, in order."""
    return [(urlsplit("//" + r.headers.get("host", "")).hostname or "", r.path) for r in server.requests()]


def fetch_once(production: Production, dns: FakeDns, port: int, url: str, *,
               check_robots: bool) -> tuple[FetchResult, Sinkhole]:
    """One ``Fetcher.fetch`` with the production settings and policy, fake DNS, sinkhole wire."""

    async def go() -> tuple[FetchResult, Sinkhole]:
        policy = replace(NetworkPolicy.from_strings(production.source.allow_networks), resolver=dns)
        sink = Sinkhole(port)
        async with Fetcher(production.fetch, policy=policy, mode=production.source.mode,
                           transport=GuardedTransport(policy, inner=sink)) as fetcher:
            return await fetcher.fetch(url, check_robots=check_robots), sink

    return asyncio.run(go())


# --------------------------------------------------------- 1. private DNS answers for a host


PRIVATE_ANSWERS = [
    pytest.param(["10.1.2.3"], "10.1.2.3", "private", id="rfc1918-10"),
    pytest.param(["192.168.0.10"], "192.168.0.10", "private", id="rfc1918-192"),
    pytest.param(["127.0.0.1"], "127.0.0.1", "loopback", id="loopback"),
    pytest.param(["169.254.169.254"], "169.254.169.254", "metadata", id="metadata"),
    pytest.param(["0.0.0.0"], "0.0.0.0", "unspecified", id="unspecified-v4"),  # Linux connects it to localhost
    pytest.param(["fd12:3456:789a::1"], "fd12:3456:789a::1", "private", id="ipv6-ula"),
    pytest.param(["::1"], "::1", "loopback", id="ipv6-loopback"),
    pytest.param(["fd00:ec2::254"], "fd00:ec2::254", "metadata", id="ipv6-metadata"),
    pytest.param(["::ffff:10.0.0.1"], "10.0.0.1", "private", id="v4-mapped-private"),
    pytest.param(["::ffff:169.254.169.254"], "169.254.169.254", "metadata", id="v4-mapped-metadata"),
    pytest.param([PUBLIC_IP, "192.168.1.1"], "192.168.1.1", "private", id="one-private-among-public"),
    # IPv6 addresses that deliver to a private IPv4 address, or deprecated-private IPv6, which
    # ipaddress calls global on Python 3.11: classify() judges them by what they carry.
    pytest.param(["64:ff9b::a00:1"], "64:ff9b::a00:1", "private", id="nat64-of-10.0.0.1"),
    pytest.param(["2002:a9fe:a9fe::1"], "2002:a9fe:a9fe::1", "metadata", id="6to4-of-metadata"),
    pytest.param(["::a9fe:a9fe"], "::a9fe:a9fe", "metadata", id="v4-compatible-metadata"),
    pytest.param(["fec0::1"], "fec0::1", "private", id="ipv6-site-local"),
]


@pytest.mark.timeout(30)
@pytest.mark.parametrize("answers,ip,why", PRIVATE_ANSWERS)
def test_public_looking_name_with_private_dns_answer_is_refused_before_connecting(
    production: Production, server: RedirectingServer, answers: list[str], ip: str | None, why: str | None
) -> None:
    """A name that looks public but resolves inside is refused before any connection, both
    on the page request itself (no robots.txt first) and, as a production crawl does it,
    at the robots.txt request; the outcome names the guard's reason and the address."""
    host = "assets.cdn-public-looking.test"
    for check_robots in (False, True):
        dns = FakeDns({host: [answers]})
        result, sink = fetch_once(production, dns, server.port, f"http://{host}/index.html", check_robots=check_robots)
        assert result.outcome == Outcome.BLOCKED_ADDRESS, (check_robots, result.outcome, result.detail)
        if ip is not None:
            assert f"{host} -> {ip} is {why}" in result.detail, (check_robots, result.detail)
        assert dns.lookups == [host]
        assert sink.connections == []
    assert server.requests() == []


# ------------------------------------------------------------------- 2. redirects inside


@dataclass(frozen=True)
class RedirectCase:
    start: str  # may contain {port}
    target: str  # where the last redirect points; may contain {port}
    ip: str  # the address the refusal names
    why: str
    served: tuple[tuple[str, str], ...]  # (host, path) the server must see, in order: the hops before the target
    dns: tuple[tuple[str, str], ...] = ()  # extra names -> one answer


REDIRECT_CASES = {
    "private-literal": RedirectCase(f"http://public.test{hs.REDIRECT_PRIVATE}", hs.PRIVATE_URL, "10.0.0.1", "private",
                                    (("public.test", hs.REDIRECT_PRIVATE),)),
    "metadata-literal": RedirectCase(f"http://public.test{hs.REDIRECT_METADATA}", hs.METADATA_URL, "169.254.169.254",
                                     "metadata", (("public.test", hs.REDIRECT_METADATA),)),
    "v4-mapped-metadata-literal": RedirectCase(
        redirect_to("public.test", "http://[::ffff:169.254.169.254]/latest/meta-data/"),
        "http://[::ffff:169.254.169.254]/latest/meta-data/", "169.254.169.254", "metadata",
        (("public.test", REDIRECT_TO),)),
    "localhost-name": RedirectCase(f"http://public.test{hs.REDIRECT_LOCALHOST_NAME}", "http://localhost:{port}/ok/1",
                                   "127.0.0.1", "loopback", (("public.test", hs.REDIRECT_LOCALHOST_NAME),),
                                   dns=(("localhost", "127.0.0.1"),)),
    "name-resolving-private": RedirectCase(
        redirect_to("public.test", "http://intranet.public-looking.test/wiki"),
        "http://intranet.public-looking.test/wiki", "192.168.1.20", "private", (("public.test", REDIRECT_TO),),
        dns=(("intranet.public-looking.test", "192.168.1.20"),)),
    "name-resolving-ula": RedirectCase(
        redirect_to("public.test", "http://v6.public-looking.test/"), "http://v6.public-looking.test/",
        "fd00:1234::5", "private", (("public.test", REDIRECT_TO),), dns=(("v6.public-looking.test", "fd00:1234::5"),)),
    "second-hop-to-metadata": RedirectCase(
        redirect_to("public.test", f"http://public2.test{hs.REDIRECT_METADATA}"), hs.METADATA_URL, "169.254.169.254",
        "metadata", (("public.test", REDIRECT_TO), ("public2.test", hs.REDIRECT_METADATA))),
}


@pytest.mark.timeout(30)
@pytest.mark.parametrize("case", list(REDIRECT_CASES.values()), ids=list(REDIRECT_CASES))
def test_redirect_from_public_page_to_inside_is_refused_at_the_hop(
    production: Production, server: RedirectingServer, case: RedirectCase
) -> None:
    """A public page answers 302 to an inside address: the hop is resolved and checked like
    the first request, refused with the guard's reason, and never connected to. Robots is
    off so that the refusal has to come from the redirected page request itself."""
    dns = FakeDns({"public.test": [[PUBLIC_IP]], "public2.test": [[PUBLIC_IP]],
                   **{name: [[ip]] for name, ip in case.dns}})
    start, target = case.start.format(port=server.port), case.target.format(port=server.port)
    result, sink = fetch_once(production, dns, server.port, start, check_robots=False)

    assert result.outcome == Outcome.BLOCKED_ADDRESS, (result.outcome, result.detail)
    assert f"-> {case.ip} is {case.why}" in result.detail, result.detail
    assert result.final_url == canonicalize(target)
    assert result.redirects[-1] == canonicalize(target) and len(result.redirects) == len(case.served)
    # The hops before the target were really served (the seam works), the target never was.
    assert served(server) == list(case.served)
    assert [(c.host_header, c.path) for c in sink.connections] == list(case.served)
    sink.assert_only_checked_public_ips()


@pytest.mark.timeout(30)
def test_rebinding_name_is_checked_again_on_the_next_hop(production: Production, server: RedirectingServer) -> None:
    """``rebind.test`` answers public once, then private. Its first page redirects to another
    page of the same host: the guard resolves and checks again for that hop (not once per
    host), so the second answer is refused, and the first connection was pinned to the
    checked IP (a connection by name would let the OS pick the private answer)."""
    dns = FakeDns({"rebind.test": [[REBIND_PUBLIC_IP], [REBIND_PRIVATE_IP]]})
    result, sink = fetch_once(production, dns, server.port, "http://rebind.test/redirect-chain/1", check_robots=False)

    assert result.outcome == Outcome.BLOCKED_ADDRESS, (result.outcome, result.detail)
    assert f"rebind.test -> {REBIND_PRIVATE_IP} is private" in result.detail
    assert result.redirects == ["http://rebind.test/ok/1"]
    assert dns.lookups == ["rebind.test", "rebind.test"]
    assert sink.connections == [Connection(REBIND_PUBLIC_IP, "rebind.test", "/redirect-chain/1")]
    assert served(server) == [("rebind.test", "/redirect-chain/1")]
    assert server.hits(hs.ok_path(1)) == 0


# ------------------------------------------------------ 3. through the real crawl entry point


@pytest.mark.timeout(60)
def test_production_crawl_refuses_private_answers_and_redirects_inside(
    production: Production, server: RedirectingServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``crawl_async`` with the production source/fetch/crawl settings (robots on, random
    walk, 1 s per host), so frontier -> fetcher -> robots -> guard all run. Seams: the policy
    ``crawl_async`` builds from the production allow-list gets the fake resolver, and the
    ``GuardedTransport`` the Fetcher builds gets the sinkhole underneath. Every root ends as
    one ``blocked_address`` row that names the inside address; the server saw each public
    hop and nothing else."""
    port = server.port
    dns = FakeDns({
        **{f"{x}.public.test": [[PUBLIC_IP]] for x in "abcde"},
        "localhost": [["127.0.0.1"]],
        "intranet.public-looking.test": [["192.168.1.20"]],
        "rebind.test": [[REBIND_PUBLIC_IP], [REBIND_PRIVATE_IP]],
        "evil.test": [["10.1.2.3"]],
    })
    # root -> (final URL refused, address named, why, (host, path) the server must see)
    expected: dict[str, tuple[str, str, str, list[tuple[str, str]]]] = {
        f"http://a.public.test{hs.REDIRECT_PRIVATE}": (
            hs.PRIVATE_URL, "10.0.0.1", "private",
            [("a.public.test", "/robots.txt"), ("a.public.test", hs.REDIRECT_PRIVATE)]),
        f"http://b.public.test{hs.REDIRECT_METADATA}": (
            hs.METADATA_URL, "169.254.169.254", "metadata",
            [("b.public.test", "/robots.txt"), ("b.public.test", hs.REDIRECT_METADATA)]),
        f"http://c.public.test{hs.REDIRECT_LOCALHOST_NAME}": (
            f"http://localhost:{port}/ok/1", "127.0.0.1", "loopback",
            [("c.public.test", "/robots.txt"), ("c.public.test", hs.REDIRECT_LOCALHOST_NAME)]),
        redirect_to("d.public.test", "http://intranet.public-looking.test/wiki"): (
            "http://intranet.public-looking.test/wiki", "192.168.1.20", "private",
            [("d.public.test", "/robots.txt"), ("d.public.test", REDIRECT_TO)]),
        # rebind.test's robots.txt gets the public answer; the page then gets the private one.
        redirect_to("e.public.test", "http://rebind.test/ok/1"): (
            "http://rebind.test/ok/1", REBIND_PRIVATE_IP, "private",
            [("e.public.test", "/robots.txt"), ("e.public.test", REDIRECT_TO), ("rebind.test", "/robots.txt")]),
        "http://evil.test/ok/0": ("http://evil.test/ok/0", "10.1.2.3", "private", []),
    }

    policies: list[NetworkPolicy] = []

    def policy_with_fake_dns(entries: Iterable[str]) -> NetworkPolicy:
        policy = replace(NetworkPolicy.from_strings(entries), resolver=dns)
        policies.append(policy)
        return policy

    sink = Sinkhole(port)
    monkeypatch.setattr(session_module, "NetworkPolicy", SimpleNamespace(from_strings=policy_with_fake_dns))
    monkeypatch.setattr(fetcher_module, "GuardedTransport", lambda policy: GuardedTransport(policy, inner=sink))

    result = asyncio.run(crawl_async(list(expected), source=production.source, fetch=production.fetch,
                                     crawl=production.crawl))

    assert [p.allow for p in policies] == [()]
    rows = {row["url"]: row for row in result.rows}
    assert set(rows) == {canonicalize(u) for u in expected}
    for root, (final, ip, why, _) in expected.items():
        row = rows[canonicalize(root)]
        assert row["outcome"] == "blocked_address", (root, row["outcome"], row["detail"])
        assert row["valid"] is False and row["invalid_reason"] == "blocked_address"
        assert row["canonical_url"] == canonicalize(final), root
        assert f"-> {ip} is {why}" in row["detail"], (root, row["detail"])
        assert row["redirects"] == ([] if final == root else [canonicalize(final)])
    assert result.outcomes == Counter({"blocked_address": len(expected)})
    assert Counter(served(server)) == Counter(hop for *_, hops in expected.values() for hop in hops)
    assert server.hits(hs.ok_path(1)) == server.hits("/admin") == server.hits("/latest/meta-data/") == 0
    sink.assert_only_checked_public_ips()


@pytest.mark.timeout(60)
def test_production_run_crawl_cannot_reach_loopback_server(production: Production,
                                                           hostile_server: HostileServer) -> None:
    """No seams: the production ``run_crawl`` with the system resolver and real sockets, and
    the hostile server really listening on loopback. Every spelling of "this machine" (the
    literal, ``localhost`` from /etc/hosts, v4-mapped IPv6, decimal and short IPv4 forms the
    resolver expands, the unspecified address) is refused, and the server sees nothing."""
    port = hostile_server.port
    roots = [f"http://127.0.0.1:{port}/ok/0", f"http://localhost:{port}/ok/1", f"http://[::ffff:127.0.0.1]:{port}/ok/2",
             f"http://2130706433:{port}/ok/3", f"http://127.1:{port}/ok/4", f"http://0.0.0.0:{port}/ok/5",
             f"http://[::]:{port}/ok/6", f"http://[::1]:{port}/ok/7"]
    result = run_crawl(roots, source=production.source, fetch=production.fetch, crawl=production.crawl)

    rows = {row["url"]: row for row in result.rows}
    assert set(rows) == {canonicalize(r) for r in roots}
    for root in roots:
        row = rows[canonicalize(root)]
        assert row["outcome"] == "blocked_address", (root, row["outcome"], row["detail"])
        assert "loopback" in row["detail"] or "unspecified" in row["detail"], (root, row["detail"])
    assert hostile_server.requests() == []
