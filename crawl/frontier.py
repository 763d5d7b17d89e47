"""Which links a crawl follows, in which order: deterministic for a given seed.

Fetches complete in any order, so nothing here depends on timing: breadth-first
crawls expand one depth level at a time in (parent order, link order); random walks
draw each step from an RNG seeded by (seed, root, walker). Two runs over the same
web with the same settings choose the same pages.
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from urllib.parse import urlsplit

from crawl.page import Link
from crawl.urls import host_of, registered_site

# Link targets that are never pages worth parsing.
BINARY_EXTENSIONS = frozenset(
    {
        ".pdf", ".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp", ".ico", ".bmp", ".tif", ".tiff",
        ".zip", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar", ".tar", ".whl", ".exe", ".dmg", ".iso",
        ".mp3", ".mp4", ".ogg", ".ogv", ".webm", ".wav", ".flac", ".avi", ".mov", ".css", ".js",
        ".woff", ".woff2", ".ttf", ".eot", ".ps", ".djvu",
    }
)


@dataclass(frozen=True)
class FrontierSettings:
    strategy: str = "bfs"  # "bfs" | "random_walk"
    max_depth: int = 2
    max_pages_per_root: int = 50
    max_pages_per_site: int = 500
    max_failures_per_root: int = 1000  # fetches that yield no page (dead links, errors) before a root stops
    same_site: bool = True
    follow_kinds: tuple[str, ...] = ("article",)
    seed: int = 0
    walkers_per_root: int = 0  # random walk: 0 = enough walkers to reach max_pages_per_root
    deny_patterns: tuple[str, ...] = ()  # substrings; a link containing one is not followed


def is_binary(url: str) -> bool:
    suffix = PurePosixPath(urlsplit(url).path).suffix.lower()
    return suffix in BINARY_EXTENSIONS


@dataclass
class Budget:
    """Page caps per root and per site, charged in deterministic order.

    Only fetches that return a page are charged to the page caps; dead links and
    errors are charged to a separate failure cap, so a root whose first links are
    dead still gets its full page budget, and a root in a dead zone still stops.
    ``reserved`` counts fetches in flight so a batch can never overshoot a cap.
    """

    settings: FrontierSettings
    per_root: Counter[str] = field(default_factory=Counter)
    per_site: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    reserved_root: Counter[str] = field(default_factory=Counter)
    reserved_site: Counter[str] = field(default_factory=Counter)

    def can_take(self, url: str, root: str) -> bool:
        site = registered_site(host_of(url))
        return (
            self.per_root[root] + self.reserved_root[root] < self.settings.max_pages_per_root
            and self.per_site[site] + self.reserved_site[site] < self.settings.max_pages_per_site
            and self.failures[root] < self.settings.max_failures_per_root
        )

    def reserve(self, url: str, root: str) -> None:
        self.reserved_root[root] += 1
        self.reserved_site[registered_site(host_of(url))] += 1

    def settle(self, url: str, root: str, got_page: bool) -> None:
        site = registered_site(host_of(url))
        self.reserved_root[root] -= 1
        self.reserved_site[site] -= 1
        if got_page:
            self.per_root[root] += 1
            self.per_site[site] += 1
        else:
            self.failures[root] += 1

    def take(self, url: str, root: str) -> None:
        self.per_root[root] += 1
        self.per_site[registered_site(host_of(url))] += 1


def followable(link: Link, root: str, settings: FrontierSettings) -> bool:
    if str(link.kind) not in settings.follow_kinds:
        return False
    if settings.same_site and registered_site(host_of(link.url)) != registered_site(host_of(root)):
        return False
    if is_binary(link.url):
        return False
    return not any(p in link.url for p in settings.deny_patterns)


def candidates(links: Iterable[Link], root: str, settings: FrontierSettings) -> list[str]:
    """Followable link URLs in document order, without duplicates."""
    out: dict[str, None] = {}
    for link in links:
        if followable(link, root, settings):
            out.setdefault(link.url, None)
    return list(out)


def walker_rng(seed: int, root: str, walker: int) -> random.Random:
    digest = hashlib.sha256(f"{seed}\x00{root}\x00{walker}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))
