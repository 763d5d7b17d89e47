"""Answer candidates read off the observations, for the demo's extractive answer space.

Only what the pages said counts: the lines our own tools write around page content
(``A Google search for ...``, ``## Web Results``, ``Evidence in page:``) and markdown
link targets are removed first, and sentence-initial function words ("The", "Its")
that the name pattern would pick up are not names.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from distill.crawlqa import evidence_spans

_SCAFFOLD = re.compile(
    r"^(A Google search for .*|## Web Results|No results found for .*|The useful information in .*|"
    r"Evidence in page: ?|Summary: ?|=======|\[\.\.\. observation truncated.*)$",
    re.MULTILINE,
)
_LINK_TARGET = re.compile(r"\]\([^)]*\)|https?://\S+")
_NOT_NAMES = frozenset(
    "the a an its it this that these those there their his her he she they we you i in on at of for by with "
    "from and or but as to is was are were be been page pages summary evidence results web".split()
)


def observed_answers(observations: Sequence[str], limit: int = 32) -> list[str]:
    """Names, numbers and dates in the page text of ``observations``, latest observation first."""
    texts = [_LINK_TARGET.sub("]", _SCAFFOLD.sub("", o)) for o in reversed(observations)]
    spans = []
    for text in texts:
        for span in evidence_spans([text], limit=limit):
            words = span.split()
            if span not in spans and not all(w.lower() in _NOT_NAMES for w in words):
                spans.append(span)
    return spans[:limit]
