"""`seekforge filter` on real WebDancer data and on crafted seekforge rows with broken lines."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from pipelines.cli import main
from trajectory_factory import answer, call, good, traj
from webdata import shared_path


def _run(*args: str) -> tuple[list[dict], dict]:  # type: ignore[type-arg]
    result = CliRunner().invoke(main, ["filter", *args])
    assert result.exit_code == 0, result.output
    lines = [json.loads(x) for x in result.stdout.splitlines()]
    return lines[:-1], lines[-1]


def test_webdancer_file(tmp_path: Path) -> None:
    webdancer = shared_path("webdancer", "sample_traj_20.jsonl")
    records, summary = _run(str(webdancer), "--format", "webdancer")
    assert len(records) == summary["total"] == 20 and [r["index"] for r in records] == list(range(20))
    # WebDancer's answers are sentences, its references short: F1 < 0.8 for every sample, but the
    # reference is in the span stating the answer for all but two (tests/test_correctness_spans.py)
    assert summary["funnel"]["correctness"] == {"in": 20, "kept": 18, "drops": {"answer_not_matched": 2}}
    assert [r["index"] for r in records if r["reasons"] == ["answer_not_matched"]] == [0, 9]
    records, summary = _run(str(webdancer), "--format", "webdancer", "--f1-threshold", "0")
    # the sample holds two rollouts of one question: the second is a duplicate question
    assert summary["kept"] == 19 and summary["funnel"]["validity"]["drops"] == {}
    assert [r["index"] for r in records if not r["keep"]] == [4] and records[4]["reasons"] == ["duplicate_question"]


def test_seekforge_rows_with_malformed_lines(tmp_path: Path) -> None:
    rows = [good(0), good(1, think="Another angle: the charter."),
            traj(call("look"), seed=2),  # never answered
            good(3, think="A third plan, the staff list."),  # same question as good(0): duplicate
            traj(call("x", name="shell", cmd="ls"), answer("ok", "Ada Brun"), qid="q2", question="Another question?")]
    rows[1].question = "Who set up the Skerry Institute?"
    lines = [json.dumps(r.to_row()) for r in rows[:2]] + ["{not json", "[1, 2]", ""] + \
        [json.dumps(r.to_row()) for r in rows[2:]]
    path = tmp_path / "t.jsonl"
    path.write_text("\n".join(lines) + "\n")
    records, summary = _run(str(path))
    assert [(r["keep"], r["reasons"]) for r in records] == [
        (True, []), (True, []), (False, ["malformed_record"]), (False, ["malformed_record"]),
        (False, ["not_finished", "answer_not_matched", "duplicate_question"]),
        (False, ["duplicate_question"]),
        (False, ["invalid_action", "too_few_tool_calls"])]
    assert summary["total"] == 7 and summary["kept"] == 2
    assert summary["funnel"]["parse"]["drops"] == {"malformed_record": 2}
    assert summary["funnel"]["duplicates"]["drops"] == {"duplicate_question": 1}


def test_unreadable_file_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["filter", str(tmp_path / "missing.jsonl")])
    assert result.exit_code != 0 and "cannot read" in result.output
