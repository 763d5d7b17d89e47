"""The embedded mini-web: a small fictional web packed as a WARC for offline crawls.

Some fifty pages shaped like en.wikipedia.org articles, arxiv.org abstract pages and
an export-API feed, and github.com repository / account pages with their REST API
JSON, about an invented country (Arvenland), its institutions, people and software.
Facts agree across pages, so multi-hop questions have one answer. The archive also
holds robots.txt for each host and pages a crawler must reject (a bot challenge, a
429, a missing article, a redirect). ``CHAINS.md`` lists question chains the world
supports; ``README.md`` says how to rebuild the archive from ``site/``.

Nothing here runs at import time; :mod:`crawl.miniweb.build` renders the archive.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
ARCHIVE_PATH: Path = PACKAGE_DIR / "miniweb.warc.gz"
SITE_DIR: Path = PACKAGE_DIR / "site"

# Where a crawl of each source may start (canonical URLs, all present in the archive).
SEED_URLS: dict[str, list[str]] = {
    "wikipedia": [
        "https://en.wikipedia.org/wiki/Sorvik_Institute",
        "https://en.wikipedia.org/wiki/Arvenland",
        "https://en.wikipedia.org/wiki/Marrick_Athletic_F.C.",
    ],
    "arxiv": [
        # arXiv abstract pages rarely link to each other, so a paper list is the root set.
        "https://arxiv.org/abs/1811.02291",
        "https://arxiv.org/abs/1906.01123",
        "https://arxiv.org/abs/2008.03315",
        "https://arxiv.org/abs/2009.07716",
        "https://arxiv.org/abs/2103.08841",
        "https://arxiv.org/abs/2402.15570",
        "https://arxiv.org/abs/2409.07754",
        "https://export.arxiv.org/api/query?id_list=2103.08841%2C2201.03390%2C2204.06632%2C2306.11802",
    ],
    "github": [
        "https://github.com/sorvik-institute",
        "https://github.com/sorvik-institute/tidewell",
        "https://github.com/skerry-lang/skerry",
        # The REST API is a separate host with no links into it from HTML pages.
        "https://api.github.com/repos/sorvik-institute/tidewell",
        "https://api.github.com/repos/sorvik-institute/cairnqa",
        "https://api.github.com/repos/skerry-lang/skerry",
    ],
}

__all__ = ["ARCHIVE_PATH", "SEED_URLS", "SITE_DIR"]
