"""Crawl throughput: seekforge's fetcher + parser against Scrapy, same URLs, same server.

Usage::

    .venv/bin/python bench/crawl_throughput.py [--pages N] [--concurrency C] [--archive PATH]
                                               [--repeats R] [--server process|thread]
                                               [--fetch-rounds K] [--skip inline,pw0,pw2,scrapy,bound]

One replay server (``crawl.replay.ReplayServer``) serves a WARC archive on 127.0.0.1;
by default it runs in its own process, so its CPU work never holds the GIL of the
crawler being measured and costs every contestant the same. Every contestant fetches
the same N archive URLs through it at the same concurrency and runs the same
``crawl.adapters.parse_response`` on every body:

* ``seekforge fetch+inline``  -- ``Fetcher`` (replay mode) + ``parse_response`` called
  in the event loop right after each fetch (no crawler, no frontier);
* ``seekforge Crawler(pw=0)`` -- ``crawl.crawler.Crawler`` parsing in the event loop;
* ``seekforge Crawler(pw=2)`` -- ``Crawler`` with ``parse_workers=2`` (process pool);
* ``scrapy``                  -- a Scrapy spider in a subprocess, calling
  ``parse_response`` in its callback (Scrapy parses on its reactor thread).

Each contestant is warmed up once (first 20 URLs), then timed R times; the table
shows the median. Repeats are interleaved (inline, pw=0, pw=2, scrapy, inline, ...) so
drift on the machine hits everyone alike. The "physical bound" is parse-only
throughput: ``parse_response`` over the same bodies in-process with no network, on
one core, and that times min(cores, 2) for the process-pool variant.

A second table times the fetch path alone (same URLs x K, no parse) for seekforge's
``Fetcher`` and Scrapy. The server's record cache holds every page under test and is
primed before timing, so its (small) cost is identical for every contestant. Each run
also reports "other load": cores used by processes outside the benchmark (from
/proc/stat), since a shared machine makes wall times meaningless when it is busy.

Output ratios are ``seekforge pages/s / scrapy pages/s`` measured in this one run.
See bench/README.md for method, figures and profile findings.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

DEFAULT_ARCHIVE = REPO.parent / "shared/webdata" / "wikipedia_2014.warc.gz"
WARMUP_URLS = 20
SCHEME_HEADER = "x-seekforge-scheme"  # crawl.transports.ORIGINAL_SCHEME_HEADER


# --------------------------------------------------------------------------- results
@dataclass
class Run:
    pages: int  # responses fetched OK and handed to the parser
    valid: int  # pages whose ParsedPage.valid is True
    wall_s: float
    cpu_s: float  # CPU seconds of the crawling process(es) during the run
    parse_s: float | None = None  # wall seconds inside parse_response (where the contestant lets us time it)
    foreign: float = 0.0  # cores busy with processes outside this benchmark during the run (see Meter)


@dataclass
class Contestant:
    name: str
    runs: list[Run] = field(default_factory=list)

    @property
    def median(self) -> Run:
        walls = sorted(self.runs, key=lambda r: r.wall_s)
        return walls[len(walls) // 2]  # R is odd by default; for even R the upper median

    @property
    def pages_per_s(self) -> float:
        m = self.median
        return m.pages / m.wall_s if m.wall_s > 0 else 0.0


class Meter:
    """How busy the machine was with *other* work while a run went on.

    ``/proc/stat`` gives CPU time used by everyone (steal included); subtracting what
    this benchmark's processes used (itself, reaped children such as pool workers and
    the Scrapy subprocess, and the replay server process) leaves other tenants' load,
    in cores. On a shared 2-core box a run with foreign load > ~0.2 is disturbed.
    """

    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    server_pid: int | None = None

    @classmethod
    def _busy(cls) -> float:
        try:
            with open("/proc/stat") as fh:
                f = [int(x) for x in fh.readline().split()[1:]]
        except OSError:
            return float("nan")
        # user nice system idle iowait irq softirq steal ...
        return (f[0] + f[1] + f[2] + f[5] + f[6] + (f[7] if len(f) > 7 else 0)) / cls.tick

    @classmethod
    def _server_cpu(cls) -> float:
        if cls.server_pid is None:
            return 0.0
        try:
            with open(f"/proc/{cls.server_pid}/stat") as fh:
                f = fh.read().rsplit(")", 1)[1].split()
            return (int(f[11]) + int(f[12])) / cls.tick
        except (OSError, IndexError, ValueError):
            return 0.0

    def __enter__(self) -> Meter:
        self.t0, self.b0, self.o0 = time.perf_counter(), self._busy(), _cpu_now() + self._server_cpu()
        return self

    def __exit__(self, *exc: object) -> None:
        wall = time.perf_counter() - self.t0
        ours = _cpu_now() + self._server_cpu() - self.o0
        self.foreign = max(0.0, (self._busy() - self.b0 - ours) / wall) if wall > 0 else 0.0


def _cpu_now() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)  # pool workers, once reaped
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


# ---------------------------------------------------------------------- replay server
def _server_child(paths: list[str], cache_size: int, conn) -> None:  # type: ignore[no-untyped-def]
    from crawl.replay import ReplayServer
    from crawl.warc import WarcIndex

    with ReplayServer(WarcIndex(paths, cache_size=cache_size)) as srv:
        conn.send(srv.url)
        conn.recv()  # block until the parent says stop


class ServerHandle:
    """The one replay server: in its own process (default) or on a thread here."""

    def __init__(self, archive: Path, cache_size: int, mode: str) -> None:
        self.archive, self.cache_size, self.mode = archive, cache_size, mode
        self.url = ""
        self._proc = None
        self._conn = None
        self._thread_srv = None

    def __enter__(self) -> ServerHandle:
        if self.mode == "process":
            ctx = multiprocessing.get_context("fork")  # nothing threaded exists yet
            parent, child = ctx.Pipe()
            self._proc = ctx.Process(target=_server_child, args=([str(self.archive)], self.cache_size, child),
                                     name="replay-server", daemon=True)
            self._proc.start()
            Meter.server_pid = self._proc.pid
            if not parent.poll(60):
                raise RuntimeError("replay server process did not start")
            self.url = parent.recv()
            self._conn = parent
        else:
            from crawl.replay import ReplayServer
            from crawl.warc import WarcIndex

            self._thread_srv = ReplayServer(WarcIndex([self.archive], cache_size=self.cache_size)).start()
            self.url = self._thread_srv.url
        return self

    def __exit__(self, *exc: object) -> None:
        if self._conn is not None:
            self._conn.send("stop")
            self._proc.join(10)
            if self._proc.is_alive():
                self._proc.terminate()
        if self._thread_srv is not None:
            self._thread_srv.stop()


def prime_server(server_url: str, urls: list[str]) -> int:
    """Fetch every URL once (untimed) so the server's record cache is equally warm for all."""
    import httpx

    ok = 0
    with httpx.Client(timeout=30) as client:
        for u in urls:
            p = urlsplit(u)
            path = p.path + (f"?{p.query}" if p.query else "")
            r = client.get(server_url + path, headers={"Host": p.netloc, SCHEME_HEADER: p.scheme})
            ok += r.status_code == 200
    return ok


# ------------------------------------------------------------------------ seekforge
def _fetcher(server_url: str, concurrency: int):  # type: ignore[no-untyped-def]
    from crawl.fetcher import Fetcher, FetchSettings
    from crawl.netguard import NetworkPolicy

    return Fetcher(
        FetchSettings(per_host_delay_s=0.0, per_host_concurrency=concurrency, total_concurrency=concurrency,
                      respect_robots=True),
        policy=NetworkPolicy(allow=("127.0.0.1",)),
        mode="replay",
        replay_url=server_url,
    )


async def _seekforge_inline(server_url: str, urls: list[str], concurrency: int, parse: bool = True) -> Run:
    from crawl.adapters import parse_response
    from crawl.urls import canonicalize

    parse_s = 0.0
    cpu0, t0 = _cpu_now(), time.perf_counter()
    async with _fetcher(server_url, concurrency) as fetcher:

        async def one(url: str) -> tuple[bool, bool]:
            nonlocal parse_s
            r = await fetcher.fetch(url)
            if not (r.ok and r.status is not None):
                return False, False
            if not parse:
                return True, bool(r.body)
            p0 = time.perf_counter()
            page = parse_response(canonicalize(r.final_url) or r.final_url, r.status, r.headers, r.body)
            parse_s += time.perf_counter() - p0
            return True, page.valid

        done = await asyncio.gather(*(one(u) for u in urls))
    wall, cpu = time.perf_counter() - t0, _cpu_now() - cpu0
    return Run(pages=sum(p for p, _ in done), valid=sum(v for _, v in done), wall_s=wall, cpu_s=cpu,
               parse_s=parse_s if parse else None)


async def _seekforge_crawler(server_url: str, urls: list[str], concurrency: int, workers: int) -> Run:
    from crawl.crawler import Crawler, CrawlSettings
    from crawl.frontier import FrontierSettings

    # max_depth=0: every URL is a root fetched at depth 0 and nothing else is followed.
    settings = CrawlSettings(
        frontier=FrontierSettings(max_depth=0, max_pages_per_root=10**6, max_pages_per_site=10**6),
        parse_workers=workers,
        progress_every_s=1e9,
    )
    cpu0, t0 = _cpu_now(), time.perf_counter()
    async with _fetcher(server_url, concurrency) as fetcher:
        result = await Crawler(fetcher, settings, progress=lambda info: None).crawl(urls)
    wall, cpu = time.perf_counter() - t0, _cpu_now() - cpu0
    ok = [r for r in result.rows if r["outcome"] == "ok"]
    return Run(pages=len(ok), valid=sum(bool(r["valid"]) for r in ok), wall_s=wall, cpu_s=cpu)


# --------------------------------------------------------------------------- scrapy
def _scrapy_child() -> None:
    """Entry point of the Scrapy subprocess: JSON job on stdin, JSON result on stdout.

    One process, one reactor: a warm-up crawl of the first URLs, then one timed crawl
    of all of them (CrawlerProcess / the reactor cannot be restarted, so each repeat
    is its own subprocess). Wall time runs from the first request handed to Scrapy to
    the last parsed item.
    """
    job = json.load(sys.stdin)
    import scrapy
    from scrapy.crawler import AsyncCrawlerRunner
    from scrapy.utils.defer import deferred_f_from_coro_f
    from scrapy.utils.reactor import install_reactor

    from crawl.adapters import parse_response

    server, c = job["server_url"], job["concurrency"]
    settings = {
        "CONCURRENT_REQUESTS": c,
        "CONCURRENT_REQUESTS_PER_DOMAIN": c,
        "DOWNLOAD_DELAY": 0,
        "ROBOTSTXT_OBEY": True,
        "AUTOTHROTTLE_ENABLED": False,
        "HTTPCACHE_ENABLED": False,
        "LOG_LEVEL": "ERROR",
        "TELNETCONSOLE_ENABLED": False,
    }
    stats: dict[str, dict] = {}

    class ReplaySpider(scrapy.Spider):
        name = "replay"

        def __init__(self, urls: list[str], tag: str, **kw) -> None:  # type: ignore[no-untyped-def]
            super().__init__(**kw)
            self.urls, self.tag = urls, tag
            self.st = stats.setdefault(tag, {"pages": 0, "valid": 0, "t0": None, "t_last": None,
                                             "cpu0": None, "cpu_last": None, "parse_s": 0.0})

        async def start(self):  # type: ignore[no-untyped-def]
            self.st["t0"], self.st["cpu0"] = time.perf_counter(), time.process_time()
            for u in self.urls:
                p = urlsplit(u)
                path = p.path + (f"?{p.query}" if p.query else "")
                yield scrapy.Request(server + path, headers={"Host": p.netloc, SCHEME_HEADER: p.scheme},
                                     callback=self.parse, cb_kwargs={"original": u}, dont_filter=job["dont_filter"] and self.tag != "warmup")

        def parse(self, response, original: str):  # type: ignore[no-untyped-def,override]
            headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                       for k, v in ((k, response.headers.get(k)) for k in response.headers.keys()) if v is not None}
            p0 = time.perf_counter()
            valid = parse_response(original, response.status, headers, response.body).valid if job["parse"] \
                else bool(response.body)
            self.st["parse_s"] += time.perf_counter() - p0
            self.st["pages"] += 1
            self.st["valid"] += bool(valid)
            self.st["t_last"], self.st["cpu_last"] = time.perf_counter(), time.process_time()
            yield {"url": original, "valid": valid}

    @deferred_f_from_coro_f
    async def main(reactor):  # type: ignore[no-untyped-def]
        runner = AsyncCrawlerRunner(settings)
        await runner.crawl(ReplaySpider, urls=job["warm_urls"], tag="warmup")
        await runner.crawl(ReplaySpider, urls=job["urls"], tag="timed")

    install_reactor("twisted.internet.asyncioreactor.AsyncioSelectorReactor")
    from twisted.internet.task import react

    try:
        react(main)
    except SystemExit:
        pass
    finally:
        t = stats.get("timed", {})
        out = {"pages": t.get("pages", 0), "valid": t.get("valid", 0),
               "wall_s": (t["t_last"] - t["t0"]) if t.get("t_last") else float("nan"),
               "cpu_s": (t["cpu_last"] - t["cpu0"]) if t.get("cpu_last") else float("nan"),
               "parse_s": t.get("parse_s") if job["parse"] else None,
               "scrapy": scrapy.__version__}
        print("SCRAPY_RESULT " + json.dumps(out), flush=True)


def run_scrapy(server_url: str, urls: list[str], warm: list[str], concurrency: int, parse: bool = True) -> Run:
    # dont_filter only when the list repeats URLs on purpose (the fetch-only table).
    job = {"server_url": server_url, "urls": urls, "warm_urls": warm, "concurrency": concurrency, "parse": parse,
           "dont_filter": len(set(urls)) < len(urls)}
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--_scrapy-child"],
                          input=json.dumps(job), capture_output=True, text=True, timeout=900, cwd=REPO)
    for line in proc.stdout.splitlines():
        if line.startswith("SCRAPY_RESULT "):
            d = json.loads(line.split(" ", 1)[1])
            return Run(pages=d["pages"], valid=d["valid"], wall_s=d["wall_s"], cpu_s=d["cpu_s"], parse_s=d["parse_s"])
    raise RuntimeError(f"scrapy subprocess failed (rc={proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")


# ---------------------------------------------------------------------- parse bound
def load_bodies(archive: Path, urls: list[str]) -> list[tuple[str, int, dict[str, str], bytes]]:
    """(url, status, headers, decoded body) for every URL, read straight from the WARC."""
    from crawl.decode import BoundedDecoder
    from crawl.warc import WarcIndex

    index = WarcIndex([archive], cache_size=len(urls) + 1)
    jobs = []
    for u in urls:
        rec = index.get(u)
        headers = {k.lower(): v for k, v in rec.headers}
        dec = BoundedDecoder(headers.pop("content-encoding", ""), 50_000_000, 1000)
        dec.feed(rec.payload)
        jobs.append((u, rec.status, headers, dec.finish()))
    return jobs


def parse_only(jobs: list[tuple[str, int, dict[str, str], bytes]]) -> Run:
    """The physical bound: parse every body in-process, one core, no network."""
    from crawl.adapters import parse_response

    cpu0, t0 = _cpu_now(), time.perf_counter()
    valid = sum(parse_response(*j).valid for j in jobs)
    wall = time.perf_counter() - t0
    return Run(pages=len(jobs), valid=valid, wall_s=wall, cpu_s=_cpu_now() - cpu0, parse_s=wall)


# ------------------------------------------------------------------------------ main
def select_urls(all_urls: list[str], n: int) -> list[str]:
    """``n`` URLs spread evenly over the archive's (sorted) URL list; all of them if n >= len."""
    all_urls = sorted(all_urls)
    if n >= len(all_urls):
        return all_urls
    step = len(all_urls) / n
    return [all_urls[int(i * step)] for i in range(n)]


def _parse_note(r: Run) -> str:
    return f"  in parse {1000 * r.parse_s / max(r.pages, 1):5.1f} ms/page" if r.parse_s is not None else ""


def _loadavg() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def main() -> None:
    if "--_scrapy-child" in sys.argv:
        _scrapy_child()
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pages", type=int, default=60,
                    help="URLs to crawl, spread evenly over the archive (default 60; the Wikipedia archive has 608)")
    ap.add_argument("--concurrency", type=int, default=16, help="concurrent requests, both crawlers (default 16)")
    ap.add_argument("--archive", type=Path, default=None, help=f"WARC to replay (default {DEFAULT_ARCHIVE})")
    ap.add_argument("--repeats", type=int, default=3, help="timed runs per contestant; median reported (default 3)")
    ap.add_argument("--server", choices=("process", "thread"), default="process",
                    help="replay server in its own process (default) or on a thread of this process")
    ap.add_argument("--fetch-rounds", type=int, default=5,
                    help="fetch-only table: the URL list is fetched this many times per run (default 5; 0 skips it)")
    ap.add_argument("--skip", default="", help="comma list of contestants to skip: inline,pw0,pw2,scrapy,bound")
    args = ap.parse_args()

    from crawl.warc import WarcIndex

    archive_note = ""
    archive = args.archive
    if archive is None:
        archive = DEFAULT_ARCHIVE
        if not archive.exists():
            from crawl.miniweb import ARCHIVE_PATH

            archive_note = f" (FALLBACK: {DEFAULT_ARCHIVE} is missing, using the embedded mini-web)"
            archive = ARCHIVE_PATH
    archive = archive.resolve()
    all_urls = WarcIndex([archive]).urls()
    urls = select_urls(all_urls, args.pages)
    warm = urls[:WARMUP_URLS]
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    workers = min(cores, 2)
    c = args.concurrency

    print(f"archive      : {archive}{archive_note} ({len(all_urls)} responses)")
    print(f"pages        : {len(urls)} (spread evenly over the archive), warm-up {len(warm)},"
          f" {args.repeats} timed repeats (median), interleaved")
    print(f"concurrency  : {c} (total and per host, both crawlers)")
    print(f"machine      : {cores} cores usable (os.cpu_count()={os.cpu_count()}), {platform.machine()},"
          f" Python {platform.python_version()}, load average {_loadavg()} at start")

    from importlib.metadata import version

    import httpcore
    import httpx

    try:
        import sniffio  # noqa: F401  # absent: httpcore 1.0.x retries a failed import on every request

        sniff = "present"
    except ImportError:
        sniff = "ABSENT (httpcore pays a failed import per lock/event: ~2 ms/request)"
    print(f"http stacks  : httpx {httpx.__version__}, httpcore {httpcore.__version__}, sniffio {sniff};"
          f" scrapy {version('scrapy')} (not imported here)")

    t_start = time.perf_counter()
    with ServerHandle(archive, cache_size=max(256, len(urls) + 1), mode=args.server) as srv:
        primed = prime_server(srv.url, urls)
        print(f"replay server: one for everybody, {'its own process' if args.server == 'process' else 'a thread of this process'},"
              f" {srv.url}; record cache holds all {len(urls)} pages, primed ({primed}/{len(urls)} HTTP 200)", flush=True)
        bodies = load_bodies(archive, urls)

        contestants = {
            "inline": Contestant("seekforge Fetcher + inline parse"),
            "pw0": Contestant("seekforge Crawler(parse_workers=0)"),
            "pw2": Contestant("seekforge Crawler(parse_workers=2)"),
            "scrapy": Contestant("scrapy (parse in callback)"),
            "bound": Contestant("parse only, no network, 1 core"),
        }
        for key in skip:
            contestants.pop(key, None)
        fetch_urls = urls * args.fetch_rounds
        fetch_only = {"seek": Contestant("seekforge Fetcher, no parse"), "scrapy": Contestant("scrapy, no parse")} \
            if args.fetch_rounds > 0 else {}

        def run_one(key: str, url_list: list[str]) -> Run:
            with Meter() as meter:
                r = _run_one(key, url_list)
            r.foreign = meter.foreign
            return r

        def _run_one(key: str, url_list: list[str]) -> Run:
            if key == "inline":
                return asyncio.run(_seekforge_inline(srv.url, url_list, c))
            if key == "pw0":
                return asyncio.run(_seekforge_crawler(srv.url, url_list, c, 0))
            if key == "pw2":
                return asyncio.run(_seekforge_crawler(srv.url, url_list, c, 2))
            if key == "bound":
                return parse_only(bodies[: len(url_list)])
            return run_scrapy(srv.url, url_list, warm, c)  # Scrapy warms up inside its subprocess

        # Warm-up: every in-process contestant once on the first URLs.
        for key in contestants:
            if key != "scrapy":
                run_one(key, warm)
        asyncio.run(_seekforge_inline(srv.url, warm, c, parse=False))

        for rep in range(args.repeats):
            for key, cont in contestants.items():
                r = run_one(key, urls)
                cont.runs.append(r)
                print(f"  rep {rep + 1} {cont.name:<36} {r.pages:4d} pages {r.wall_s:7.2f}s "
                      f"{r.pages / r.wall_s:7.2f} p/s  cpu {r.cpu_s:6.2f}s{_parse_note(r)}  other load {r.foreign:4.2f} cores", flush=True)
            for key, cont in fetch_only.items():
                with Meter() as meter:
                    r = (asyncio.run(_seekforge_inline(srv.url, fetch_urls, c, parse=False)) if key == "seek"
                         else run_scrapy(srv.url, fetch_urls, warm, c, parse=False))
                r.foreign = meter.foreign
                cont.runs.append(r)
                print(f"  rep {rep + 1} {cont.name:<36} {r.pages:4d} pages {r.wall_s:7.2f}s "
                      f"{r.pages / r.wall_s:7.2f} p/s  cpu {r.cpu_s:6.2f}s{_parse_note(r)}  other load {r.foreign:4.2f} cores", flush=True)

    # ------------------------------------------------------------------- report
    single = contestants["bound"].pages_per_s if "bound" in contestants else float("nan")
    all_runs = [r for cont in [*contestants.values(), *fetch_only.values()] for r in cont.runs]
    disturbed = sum(r.foreign > 0.2 for r in all_runs)
    print()
    kb = sum(len(b[3]) for b in bodies) / max(len(bodies), 1) / 1024
    print(f"Crawl throughput, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {len(urls)} pages (mean {kb:.0f} KB) from"
          f" {archive.name}; concurrency {c}; {cores} cores; replay server in {args.server};"
          f" median of {args.repeats}; load average {_loadavg()} at end")
    print(f"{'contestant':<38} {'pages':>5} {'valid':>5} {'wall s':>7} {'pages/s':>8} {'best p/s':>8}"
          f" {'cpu s/page':>10} {'parse s/page':>12} {'of bound':>8} {'other load':>10}")

    def row(name: str, cont: Contestant, limit: float | None, cpu_scale: float = 1.0, fmt: str = ".4f") -> None:
        m = cont.median
        best = max(r.pages / r.wall_s for r in cont.runs)
        of_bound = f"{cont.pages_per_s / limit:8.0%}" if limit else f"{'':8}"
        in_parse = f"{cpu_scale * m.parse_s / max(m.pages, 1):12{fmt}}" if m.parse_s is not None else f"{'':12}"
        print(f"{name:<38} {m.pages:5d} {m.valid:5d} {m.wall_s:7.2f} {cont.pages_per_s:8.2f} {best:8.2f}"
              f" {cpu_scale * m.cpu_s / max(m.pages, 1):10{fmt}} {in_parse} {of_bound}"
              f" {statistics.median(r.foreign for r in cont.runs):10.2f}")

    for key, cont in contestants.items():
        if key != "bound":
            row(cont.name, cont, single * (workers if key == "pw2" else 1))
    if "bound" in contestants:
        row("physical bound: parse only, 1 core", contestants["bound"], None)
        print(f"{f'physical bound: parse only, x{workers} cores':<38} {'':5} {'':5} {'':7} {single * workers:8.2f}")
    if "scrapy" in contestants:
        sp = contestants["scrapy"].pages_per_s
        for key, cont in contestants.items():
            if key not in ("scrapy", "bound"):
                print(f"ratio  {cont.name:<36} / scrapy = {cont.pages_per_s / sp:5.2f}   (goal >= 1.5)")
    if fetch_only:
        print()
        print(f"Fetch only (no parse): the same {len(urls)} URLs x {args.fetch_rounds} rounds, concurrency {c}"
              f" (cpu column in ms/page)")
        for cont in fetch_only.values():
            row(cont.name, cont, None, cpu_scale=1000.0, fmt=".2f")
        print(f"ratio  seekforge / scrapy (fetch only) = {fetch_only['seek'].pages_per_s / fetch_only['scrapy'].pages_per_s:5.2f}")
    print()
    print(f"{disturbed} of {len(all_runs)} timed runs saw other load > 0.2 cores"
          + ("; figures from a disturbed machine, re-run on a quiet one before quoting them" if disturbed else "; machine was quiet"))
    print(f"total benchmark time {time.perf_counter() - t_start:.0f}s")


if __name__ == "__main__":
    main()
