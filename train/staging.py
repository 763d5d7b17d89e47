"""Writing datasets to disk: a directory built in full beside its destination, then swapped
in, and ``datasets`` tables that keep their schema when empty.

Why the swap: a dataset directory is read by other processes (Dagster assets downstream, a
trainer started by hand) while a rerun rewrites it. Building it under a temp name and
renaming at the end means a reader sees the old dataset or the new one, never half of each.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def staged_dir(out_dir: str | Path) -> Iterator[Path]:
    """Yield an empty temp directory beside ``out_dir``; on normal exit it replaces ``out_dir``.

    On an exception the temp directory is removed and ``out_dir`` is left as it was. The
    swap is two renames (old aside, new in), so there is a moment without ``out_dir``
    but never one with a partial one.
    """
    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    tag = uuid.uuid4().hex[:8]
    tmp = out.with_name(f".tmp-{out.name}-{tag}")
    tmp.mkdir()
    try:
        yield tmp
        aside = out.with_name(f".old-{out.name}-{tag}")
        had_old = out.exists()
        if had_old:
            os.rename(out, aside)
        os.rename(tmp, out)
        if had_old:
            shutil.rmtree(aside, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def dataset_from_rows(rows: Sequence[Mapping[str, Any]], features: Any) -> Any:
    """``datasets.Dataset`` of ``rows`` under ``features``, also when there are none.

    ``Dataset.from_list([], features=...)`` builds a table without columns, which then fails
    to load back; an empty dataset must keep its schema (a run where every question was
    dropped is a normal outcome).
    """
    from datasets import Dataset

    if not rows:
        return Dataset.from_dict({name: [] for name in features}, features=features)
    return Dataset.from_list([dict(r) for r in rows], features=features)


def save_dataset(ds: Any, path: Path) -> None:
    """``ds.save_to_disk(path)``; an empty dataset is written as one (empty) shard, since
    ``datasets`` would otherwise write none and then fail to load it back."""
    ds.save_to_disk(str(path), num_shards=1 if ds.num_rows == 0 else None)
