"""The embedded mini-web: a small fictional web packed as a WARC for offline crawls.

Some sixty pages shaped like en.wikipedia.org articles, categories and a portal,
arxiv.org abstract pages, category listings and an export-API feed, and github.com
repository / account / topic pages with their REST API JSON, about an invented
country (Arvenland), its institutions, people and software.
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
# Hub pages of the kinds production seeds with (pipelines/configs/production.yaml), so the
# demo crawl walks the same path: listing -> papers / repositories / articles -> their links.
SEED_URLS: dict[str, list[str]] = {
    "wikipedia": [
        "https://en.wikipedia.org/wiki/Portal:Arvenland",  # links every article: all at depth 1
        "https://en.wikipedia.org/wiki/Category:Arvenland",  # subcategories, then their members
    ],
    "arxiv": [
        # Category listings; abstract pages rarely link each other, so these are the way in.
        "https://arxiv.org/list/cs.IR/recent",
        "https://arxiv.org/list/cs.CL/recent",
        "https://arxiv.org/list/cs.LG/recent",
        "https://arxiv.org/list/cs.PL/recent",
        # An export-API answer, the machine-readable listing.
        "https://export.arxiv.org/api/query?id_list=2103.08841%2C2201.03390%2C2204.06632%2C2306.11802",
    ],
    "github": [
        "https://github.com/topics/information-retrieval",
        "https://github.com/topics/question-answering",
        # The REST API is a separate host with no links into it from HTML pages.
        "https://api.github.com/repos/sorvik-institute/tidewell",
        "https://api.github.com/repos/sorvik-institute/cairnqa",
        "https://api.github.com/repos/skerry-lang/skerry",
    ],
}

__all__ = ["ARCHIVE_PATH", "SEED_URLS", "SITE_DIR"]
