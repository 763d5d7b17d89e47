"""One verdict per JSONL line: the streaming loop of the line-checking commands
(``qa-lint``, ``decontaminate``, ``filter``).

Each command only says how to judge one line; reading (``-`` is stdin), skipping blank
lines, numbering, the ``{"index", "keep", "reasons"}`` output, a reader that closes the
pipe early (``| head``) and read errors are handled here, the same way for all of them.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn


@dataclass(slots=True)
class Verdict:
    reasons: list[str]  # empty: keep
    id: object = None  # the record's own id, written after "index" when there is one
    extra: dict[str, Any] = field(default_factory=dict)  # written after "reasons"


def click_fail(message: str) -> NoReturn:
    """The usual way a command stops on a bad input file (``Error: ...``, exit 1)."""
    import click

    raise click.ClickException(message)


def stream_verdicts(source: Path, judge: Callable[[int, bytes], Verdict], *,
                    fail: Callable[[str], NoReturn] = click_fail,
                    summary: Callable[[int, int], dict[str, Any]] | None = None) -> tuple[int, int]:
    """Write ``judge(line_number, raw_line)`` for every non-blank line of ``source`` to stdout
    as one JSON line, then ``summary(kept, total)`` when given; return (kept, total).

    The file is streamed, so it need not fit in memory. ``fail`` gets a message naming the
    file when it cannot be opened or read. A closed stdout ends the command quietly (exit 0).
    """
    try:
        stream = sys.stdin.buffer if str(source) == "-" else source.open("rb")
    except OSError as exc:
        fail(f"cannot read {source}: {exc.strerror or exc}")
    kept = total = 0
    out = sys.stdout
    try:
        with stream:
            for lineno, raw in enumerate(stream, start=1):
                if not raw.strip():
                    continue
                verdict = judge(lineno, raw)
                line: dict[str, Any] = {"index": total}
                if verdict.id is not None:
                    line["id"] = verdict.id
                line |= {"keep": not verdict.reasons, "reasons": verdict.reasons, **verdict.extra}
                out.write(json.dumps(line, ensure_ascii=False) + "\n")
                kept += not verdict.reasons
                total += 1
        if summary is not None:
            out.write(json.dumps(summary(kept, total)) + "\n")
        out.flush()
    except BrokenPipeError:  # e.g. `seekforge filter ... | head`: not an error
        sys.stderr.close()
        sys.exit(0)
    except OSError as exc:
        fail(f"error reading {source}: {exc}")
    return kept, total
