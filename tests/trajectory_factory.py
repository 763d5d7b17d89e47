"""Crafted trajectories for filter tests: a few lines per case, real parsing underneath."""

from __future__ import annotations

import json

import polars as pl

from distill.agent.formats import _steps_from_messages
from distill.agent.trajectory import Trajectory, trajectories_frame

TOOLS_JSON = json.dumps([{"name": "search", "parameters": {}}, {"name": "visit", "parameters": {}}])
TOOL_NAMES = frozenset({"search", "visit"})


def call(think: str, name: str = "search", **arguments: object) -> str:
    args = arguments or {"query": [think[:20]]}
    return f"<think>{think}</think>\n<tool_call>{json.dumps({'name': name, 'arguments': args})}</tool_call>"


def answer(think: str, text: str) -> str:
    return f"<think>{think}</think>\n<answer>{text}</answer>"


def traj(*assistant: str, question: str = "Who founded the Skerry Institute?", reference: str = "Ada Brun",
         aliases: tuple[str, ...] = (), finish_reason: str | None = None, qid: str = "q1", seed: int = 0,
         style: str = "short", observation: str = "Result: a page about the institute.") -> Trajectory:
    """Assistant turns in order; every turn but the last gets a tool observation."""
    messages = [{"role": "system", "content": "You are a research agent."}, {"role": "user", "content": question}]
    for i, text in enumerate(assistant):
        messages.append({"role": "assistant", "content": text})
        if i < len(assistant) - 1:
            messages.append({"role": "tool", "content": f"\n{observation} ({i})\n"})
    steps = _steps_from_messages(messages, TOOL_NAMES)
    last = steps[-1] if steps else None
    finished = last is not None and last.action == "answer"
    return Trajectory(question_id=qid, question=question, reference=reference, aliases=list(aliases), style=style,
                      seed=seed, messages=messages, steps=steps, final_answer=last.answer if finished else "",
                      finish_reason=finish_reason or ("answer" if finished else "max_turns"), tools_json=TOOLS_JSON)


def good(seed: int = 0, final: str = "Ada Brun", qid: str = "q1", think: str = "") -> Trajectory:
    return traj(call(think or f"I need the founder of the institute, attempt {seed}."),
                answer("The page names the founder.", final), seed=seed, qid=qid)


def scored_table(rows: list[tuple[Trajectory, bool, bool]]) -> pl.DataFrame:
    """scored_trajectories as the filters write it, for (trajectory, keep, correct) rows."""
    from assets.datasets import SCORED_EXTRA  # here: the filter tests using this module need no Dagster import

    extra = [{"keep": keep, "reasons": [] if keep else ["minority_answer"], "stage_dropped": "" if keep else "voting",
              "vote_share": 1.0, "f1": float(ok), "em": float(ok), "judge_correct": None, "judge_reason": None,
              "benchmark_match": None, "correct": ok, "rule_correct": ok, "answer_span": ""} for _, keep, ok in rows]
    return pl.concat([trajectories_frame([t for t, _, _ in rows]), pl.DataFrame(extra, schema=SCORED_EXTRA)],
                     how="horizontal")
