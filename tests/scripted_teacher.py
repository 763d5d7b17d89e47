"""A scripted teacher for the fake LLM server: it answers each seekforge prompt the way
a competent model would, derived only from the request's own text, and misbehaves on
a deterministic share of seeds so every drop path runs. Used to test the QA stage's
logic and accounting independently of the (weak) embedded model."""

from __future__ import annotations

import json
import re

from fake_llm_server import RecordedRequest, Reply, malformed_json, reply, status

_DOC = re.compile(r"^Document \d+: (.+)$", re.MULTILINE)
_YEAR = re.compile(r"\b(1[6-9]\d\d|20\d\d)\b")


def _system(request: RecordedRequest) -> str:
    for m in request.messages:
        if m.get("role") == "system":
            return str(m.get("content", ""))
    return ""


def scripted_teacher(request: RecordedRequest, *, faulty: bool = True):  # type: ignore[no-untyped-def]
    system = _system(request)
    user = request.last_user_message
    seed = int((request.json or {}).get("seed") or 0)
    if "strict reviewer" in system:
        return reply('{"verdict": "accept", "reason": "supported"}')
    if "You write one question-answer pair" in system:  # CRAWLQA generation
        if faulty and seed % 5 == 0:
            return malformed_json(body=b"not json at all")  # transport-level garbage: retried, then a drop
        if faulty and seed % 5 == 1:
            return reply('{"question": "Which year')  # truncated JSON content
        titles = _DOC.findall(user)
        last_doc = user.split(f"Document {len(titles)}: ", 1)[-1] if titles else user
        years = _YEAR.findall(last_doc)
        first = re.sub(r"\s*\(.*\)$", "", titles[0]) if titles else "it"
        if faulty and seed % 5 == 2:
            q = f"According to this page, which year is mentioned for {first}?"
        else:
            q = f"Which year appears in the history connected to {first}?"
        answer = years[0] if years else "unknown"
        return reply(json.dumps({"question": q, "answer": answer, "aliases": [], "type": "temporal",
                                 "reasoning": "found in the last document"}))
    if "description that identifies it" in system:
        return reply('{"description": "the place discussed in a recent encyclopedia entry"}')
    return status(400)


def reliable_teacher(request: RecordedRequest) -> Reply:
    return scripted_teacher(request, faulty=False)
