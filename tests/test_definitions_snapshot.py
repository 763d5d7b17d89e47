"""A snapshot of the Dagster definitions (``pipelines.definitions.build_definitions``).

Renders assets (group, kinds, partitions, deps), asset checks (blocking), jobs (selected
assets, tags), schedules (cron, job, default status) and resources of the embedded profile,
plus the production profile's resources and schedule, as sorted text, and compares it with
tests/snapshots/definitions.txt. Any change to the graph shows up as a diff in review; when
it is intended, regenerate the file and commit it with the change:

    SEEKFORGE_UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest tests/test_definitions_snapshot.py
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import dagster as dg
import pytest

from pipelines.definitions import build_definitions, defs
from pipelines.profiles import active_profile
from webdata import in_ci

SNAPSHOT = Path(__file__).resolve().parent / "snapshots" / "definitions.txt"
UPDATE_ENV = "SEEKFORGE_UPDATE_SNAPSHOTS"
UPDATE_COMMAND = f"{UPDATE_ENV}=1 .venv/bin/python -m pytest tests/test_definitions_snapshot.py"


def _key(key: dg.AssetKey) -> str:
    return key.to_user_string()


def _partitions(partitions_def: dg.PartitionsDefinition | None) -> str:
    if partitions_def is None:
        return "none"
    if isinstance(partitions_def, dg.StaticPartitionsDefinition):
        return f"static [{', '.join(partitions_def.get_partition_keys())}]"
    return type(partitions_def).__name__  # time-window or dynamic: the kind is what the snapshot pins


def _resource(value: object) -> str:
    cls = getattr(value, "resource_cls", None)  # a PartialResource: configured at launch
    return f"{cls.__name__} (configured at launch)" if cls is not None else type(value).__name__


def _schedules(defs: dg.Definitions) -> list[str]:
    lines = []
    for name in sorted(s.name for s in defs.schedules or []):
        s = defs.resolve_schedule_def(name)
        lines += [f"schedule {name}", f"  cron: {s.cron_schedule}", f"  job: {s.job_name}",
                  f"  default_status: {s.default_status.value}", f"  timezone: {s.execution_timezone}"]
    return lines


def _resources(defs: dg.Definitions) -> list[str]:
    return [f"resource {key}: {_resource(value)}" for key, value in sorted((defs.resources or {}).items())]


def render(defs: dg.Definitions, profile: str) -> str:
    """The embedded profile's whole graph, and for ``production`` what differs by profile."""
    lines = [f"== profile: {profile}"]
    if profile != "production":
        graph = defs.resolve_asset_graph()
        lines.append("")
        for key in sorted(graph.get_all_asset_keys(), key=_key):
            node = graph.get(key)
            lines += [f"asset {_key(key)}", f"  group: {node.group_name}", f"  kinds: {', '.join(sorted(node.kinds))}",
                      f"  partitions: {_partitions(node.partitions_def)}",
                      f"  deps: {', '.join(sorted(_key(k) for k in node.parent_keys)) or '-'}"]
        lines.append("")
        for check in sorted(graph.asset_check_keys, key=lambda c: (_key(c.asset_key), c.name)):
            lines.append(f"check {_key(check.asset_key)}:{check.name} blocking={graph.get_check_spec(check).blocking}")
        lines.append("")
        for name in sorted(job.name for job in defs.jobs or []):
            job = defs.resolve_job_def(name)
            lines += [f"job {name}", "  assets:"]
            lines += [f"    {_key(k)}" for k in sorted(job.asset_layer.selected_asset_keys, key=_key)]
            lines += ["  tags:" + ("" if job.tags else " -")]
            lines += [f"    {k}={v}" for k, v in sorted(job.tags.items())]
    lines.append("")
    lines += _schedules(defs)
    lines.append("")
    lines += _resources(defs)
    return "\n".join(lines) + "\n"


def current() -> str:
    head = ["# Dagster definitions of seekforge, rendered by tests/test_definitions_snapshot.py.",
            f"# Regenerate after an intended change: {UPDATE_COMMAND}", ""]
    body = [render(build_definitions(profile), profile) for profile in ("embedded", "production")]
    return "\n".join(head) + "\n".join(body)


def test_definitions_match_the_snapshot() -> None:
    text = current()
    if os.environ.get(UPDATE_ENV, "").strip().lower() not in ("", "0", "false", "no", "off"):
        if in_ci():
            pytest.fail(f"{UPDATE_ENV} is set under CI: snapshots are updated by a person and committed, not in CI")
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(text, encoding="utf-8")
        return
    assert SNAPSHOT.exists(), f"{SNAPSHOT} is missing: create it with `{UPDATE_COMMAND}`"
    want = SNAPSHOT.read_text(encoding="utf-8")
    if text != want:
        diff = "".join(difflib.unified_diff(want.splitlines(keepends=True), text.splitlines(keepends=True),
                                            "tests/snapshots/definitions.txt (committed)", "current definitions"))
        pytest.fail(f"The Dagster definitions changed:\n{diff}\nIf this is intended, run `{UPDATE_COMMAND}` "
                    "and commit tests/snapshots/definitions.txt with the change.", pytrace=False)


def test_module_defs_are_the_active_profile() -> None:
    """``pipelines.definitions.defs`` (what `dagster` loads) is build_definitions of the active profile."""
    profile = active_profile()
    assert render(defs, profile) == render(build_definitions(profile), profile)


def test_snapshot_is_independent_of_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The rendering names profiles explicitly: SEEKFORGE_PROFILE and SEEKFORGE_DATA_DIR do not change it."""
    baseline = current()
    monkeypatch.setenv("SEEKFORGE_PROFILE", "production")
    monkeypatch.setenv("SEEKFORGE_DATA_DIR", "/nonexistent/seekforge-data")
    assert current() == baseline
