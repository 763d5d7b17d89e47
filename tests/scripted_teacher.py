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
    if "You grade answers to research questions" in system:  # answer judge
        ref = re.search(r"^Reference answer: (.*)$", user, re.MULTILINE)
        ans = re.search(r"^Response's final answer: (.*)$", user, re.MULTILINE)
        same = bool(ref and ans and ref.group(1).strip().lower() == ans.group(1).strip().lower())
        return reply(json.dumps({"correct": "yes" if same else "no", "reason": "compared with the reference"}))
    if "question-answering system's prediction" in system:  # benchmark judge (train/eval_judge.py)
        gold = [g.strip().lower() for g in re.findall(r"^(?:Gold answer|Also accepted): (.*)$", user, re.MULTILINE)]
        golds = {a.strip() for g in gold for a in g.split(";")}
        pred = re.search(r"^Prediction: (.*)$", user, re.MULTILINE)
        same = bool(pred and pred.group(1).strip().lower() in golds)
        return reply(json.dumps({"correct": "yes" if same else "no", "reason": "compared with the gold answers"}))
    if "You answer trivia questions from memory" in system:  # closed-book gate: the scripted teacher does not know
        return reply("I am not sure")
    if "You answer a question using only the documents" in system:  # with-evidence gate: as CRAWLQA wrote it
        docs = user.rsplit("Question:", 1)[0]
        titles = _DOC.findall(docs)
        last_doc = docs.split(f"Document {len(titles)}: ", 1)[-1] if titles else docs
        years = _YEAR.findall(last_doc)
        return reply(years[0] if years else "unknown")
    if "has exactly one correct answer" in system:  # uniqueness gate
        return reply('{"verdict": "wrong", "reason": "does not satisfy the question"}')
    if "You are a reasoning reward model" in system:  # RRM: one grade per numbered atomic thought
        thoughts = user.split("Atomic thoughts to grade:", 1)[-1]
        n = len(re.findall(r"^\[(\d+)\] ", thoughts, re.MULTILINE))
        return reply(json.dumps({"scores": [{"index": i, "score": 0.5, "rationale": "scripted"}
                                            for i in range(1, n + 1)]}))
    if "description that identifies it" in system:
        return reply('{"description": "the place discussed in a recent encyclopedia entry"}')
    if "<tools>" in system:
        return scripted_agent(request)
    if "organizes its private reasoning" in user:  # atomic-thought prompt expansion
        return reply(json.dumps({"units": [{"tag": t, "description": f"The agent does {t.lower()} here."}
                                           for t in _unit_combo(seed)]}))
    if "<<<UNTRUSTED_PAGE_CONTENT>>>" in user:  # visit summarizer
        page = user.split("<<<UNTRUSTED_PAGE_CONTENT>>>", 1)[1].split("<<<END_UNTRUSTED_PAGE_CONTENT>>>", 1)[0]
        sentence = re.split(r"(?<=[.!?])\s", " ".join(page.split()), maxsplit=1)[0][:300]
        return reply(json.dumps({"evidence": sentence, "summary": f"The page says: {sentence}"}))
    return status(400)


_UNIT_POOL = ("PLAN", "VERIFICATION", "REFLECTION", "SOURCE_CHECK", "HYPOTHESIS", "TIMELINE", "RISK_ANALYSIS",
              "DECOMPOSITION", "CROSS_CHECK", "SYNTHESIS")


def _unit_combo(seed: int) -> list[str]:
    """A set of 2-4 tags that differs between most seeds, so expansions are mostly distinct."""
    n = 2 + seed % 3
    start = (seed // 3) % len(_UNIT_POOL)
    return [_UNIT_POOL[(start + i * (1 + seed % 4)) % len(_UNIT_POOL)] for i in range(n)]


_LINK = re.compile(r"\]\((https?://[^\s)]+)\)")
_UNIT_TAG = re.compile(r"^- <([A-Z][A-Z0-9_]*)>:", re.MULTILINE)


def scripted_agent(request: RecordedRequest) -> Reply:
    """A competent ReAct agent: search the question, read the first result, answer from
    the evidence. Atomic prompts get their listed units (one nested); a model named
    ``*reasoner*`` answers through the reasoning channel, as reasoning servers do."""
    messages = request.messages
    question = str(messages[1].get("content", "")) if len(messages) > 1 else ""
    observations = [str(m.get("content", "")) for m in messages if str(m.get("content", "")).startswith("<tool_response>")]
    units = _UNIT_TAG.findall(_system(request))
    if not observations:
        thought, action = "I should search for the key entity of the question.", _call("search", query=[question[:80]])
    elif len(observations) == 1 and _LINK.search(observations[-1]):
        url = _LINK.search(observations[-1]).group(1)
        thought, action = "The first result looks relevant; I will read it.", _call("visit", url=[url], goal=question[:80])
    else:
        evidence = observations[-1].split("Evidence in page: \n", 1)[-1]
        words = re.findall(r"[A-Z][\w-]+", evidence)
        thought, action = "The evidence names the entity.", f"<answer>{words[0] if words else 'unknown'}</answer>"
    if len(units) >= 2:
        inner = units[2] if len(units) >= 3 else units[0]
        thought = (f"<{units[0]}>{thought}</{units[0]}>\n<{units[1]}>Check it."
                   f"<{inner}>Against the page.</{inner}></{units[1]}>")
    if "reasoner" in str((request.json or {}).get("model", "")):
        return reply(action, reasoning_content=thought)
    return reply(f"<think>\n{thought}\n</think>\n{action}")


def _call(name: str, **arguments: object) -> str:
    return "<tool_call>\n" + json.dumps({"name": name, "arguments": arguments}) + "\n</tool_call>"


def reliable_teacher(request: RecordedRequest) -> Reply:
    return scripted_teacher(request, faulty=False)
