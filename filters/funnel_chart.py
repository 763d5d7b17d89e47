"""The funnel as a picture: one horizontal bar per stage, kept and dropped.

Dagster renders markdown metadata, so the PNG is also offered as an inline data URI
(small: a few stages, low DPI) next to the file path.
"""

from __future__ import annotations

import base64
from pathlib import Path

from filters.funnel import Funnel

MAX_INLINE_BYTES = 200_000


def funnel_png(funnel: Funnel, path: str | Path, *, title: str = "seekforge funnel") -> Path:
    import matplotlib

    matplotlib.use("Agg")  # no display; also safe inside Dagster's subprocesses
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    names = [s.name for s in funnel.stages][::-1]
    kept = [s.kept for s in funnel.stages][::-1]
    dropped = [s.dropped for s in funnel.stages][::-1]
    fig, ax = plt.subplots(figsize=(7, 0.45 * max(3, len(names)) + 1), dpi=80)
    try:
        ax.barh(names, kept, color="#3b7dd8", label="kept")
        ax.barh(names, dropped, left=kept, color="#d9534f", label="dropped")
        for y, (k, d) in enumerate(zip(kept, dropped, strict=True)):
            ax.text(k + d, y, f" {k}/{k + d}", va="center", fontsize=8)
        ax.set_xscale("symlog")
        ax.set_xlabel("records (log scale)")
        ax.set_title(title)
        ax.legend(loc="lower right", fontsize=8)
        fig.tight_layout()
        tmp = path.with_suffix(".tmp.png")
        fig.savefig(tmp)
        tmp.replace(path)
    finally:
        plt.close(fig)
    return path


def png_markdown(path: str | Path, alt: str = "funnel") -> str:
    data = Path(path).read_bytes()
    if len(data) > MAX_INLINE_BYTES:
        return f"`{path}` ({len(data)} bytes, too large to inline)"
    return f"![{alt}](data:image/png;base64,{base64.b64encode(data).decode()})\n\n`{path}`"
