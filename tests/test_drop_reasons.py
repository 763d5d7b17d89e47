"""The drop-reason contract (crawl/drop_reasons.py): one registry, constants only, checked.

Three ways a reason could escape the registry, one test each: the generated docs go stale
(compared with the committed file), code writes a literal or composed reason where a
reason belongs (a static scan of the source with ``ast``), and a stage emits an
undeclared reason at run time (planted in a rule: ``run_filters`` and the funnel raise).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from crawl import drop_reasons as R
from crawl.drop_reasons import REGISTRY, UndeclaredReason, check, check_display, prefixed
from trajectory_factory import answer, call, good, traj

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("crawl", "distill", "filters", "train", "assets", "pipelines")

# ---------------------------------------------------------------------------
# the registry itself
# ---------------------------------------------------------------------------


def test_registry_entries_and_constants() -> None:
    assert len(REGISTRY) >= 90
    for name, entry in REGISTRY.items():
        assert entry.name == name and entry.stage in R.STAGES and entry.meaning, entry
        assert all(s in R.STAGES for s in entry.also), entry
        assert ":" not in name and " " not in name and name == name.lower(), name
    constants = {k: v for k, v in vars(R).items() if k.isupper() and isinstance(v, str) and v in REGISTRY}
    # every entry has exactly one module-level constant, and the constants are plain str
    assert sorted(constants.values()) == sorted(REGISTRY)
    assert all(type(v) is str for v in constants.values())
    assert R.HTTP_ERROR == "http_error" and check("http_error").stage == "page"


def test_check_refuses_undeclared_and_composed_names() -> None:
    for bad in ("not_a_declared_reason", "http_404", "invalid_action:bad_json", "parse_error: ValueError", "", None, 3):
        with pytest.raises(UndeclaredReason):
            check(bad)
    assert check_display("crawlqa:judge_reject") == "crawlqa:judge_reject"
    assert prefixed("e2hqa", R.NO_ENTITY) == "e2hqa:no_entity"
    for bad in ("crawlqa:not_a_declared_reason", "webdancer:judge_reject"):
        with pytest.raises(UndeclaredReason):
            check_display(bad)
    with pytest.raises(ValueError):
        prefixed("webdancer", R.NO_ENTITY)
    with pytest.raises(UndeclaredReason):
        prefixed("crawlqa", "judge_llm_error:timeout")
    with pytest.raises(ValueError, match="declared twice"):
        R.reason("near_empty", stage="page", meaning="again")
    with pytest.raises(ValueError, match="unknown stage"):
        R.reason("brand_new_reason", stage="nowhere", meaning="x")
    assert "brand_new_reason" not in REGISTRY


def test_vocabularies_elsewhere_are_declared() -> None:
    """Enumerations of reasons kept next to their code use the registry's names."""
    from crawl.fetcher import Outcome
    from crawl.validity import RULES
    from distill.agent.protocol import INVALID_REASONS
    from distill.qa_rules import REASONS

    assert {str(o) for o in Outcome} - {"ok"} <= set(REGISTRY)
    assert all(check(o).stage == "fetch" for o in Outcome if o != Outcome.OK)
    assert all(check(r).stage == "qa_rules" for r in REASONS)
    assert {check(r.reason).stage for r in RULES} == {"page"}
    # The agent's per-step invalid-action codes are not drop reasons (a rollout with one is
    # dropped as invalid_action); keeping the two apart stops one shadowing the other.
    assert not set(INVALID_REASONS) & set(REGISTRY) - {"self_observation"}


# ---------------------------------------------------------------------------
# docs/drop_reasons.md
# ---------------------------------------------------------------------------


def test_docs_are_generated_from_the_registry() -> None:
    committed = (ROOT / "docs" / "drop_reasons.md").read_text(encoding="utf-8")
    assert committed == R.render_markdown(), (
        "docs/drop_reasons.md is stale: run `python -m crawl.drop_reasons --write` and commit it")
    for name in REGISTRY:
        assert f"| `{name}` |" in committed


def test_module_prints_the_markdown() -> None:
    proc = subprocess.run([sys.executable, "-m", "crawl.drop_reasons"], capture_output=True, text=True, cwd=ROOT,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == R.render_markdown()


# ---------------------------------------------------------------------------
# static scan: no literal or composed reason where a reason is written
# ---------------------------------------------------------------------------

#: Fields / parameters that hold a drop reason.
REASON_FIELDS = frozenset({"reason", "invalid_reason"})
#: Where a literal in a reason position is something else, and why.
NOT_DROP_REASONS = {
    ("crawl/browser.py", "reason"): "a WebSocket close reason sent to the page",
    ("crawl/warc.py", "ArchivedResponse"): "the HTTP reason phrase of an archived response",
    ("distill/answer_judge.py", "JudgeVerdict"): "the judge's explanation of a verdict (judge_reason column)",
    ("train/rewards.py", "FormatVerdict"): "a reward's format verdict, explained per turn",
}
#: The agent's per-step invalid-action codes (distill/agent/protocol.py INVALID_REASONS, and the
#: loop's repeated_call): a Step's ``invalid_reason`` in distill/agent/ takes these.
STEP_VOCABULARY_DIR = "distill/agent/"


@dataclass(frozen=True)
class Hit:
    path: str
    line: int
    what: str  # "undeclared" | "composed"
    text: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what} reason {self.text}"


def _is_str(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def _composed(node: ast.AST) -> bool:
    """An f-string, a concatenation or %-format with a string, or ``"...".format(...)``."""
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mod)):
        return any(_is_str(x) or _composed(x) for x in (node.left, node.right))
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("format", "join")
            and _is_str(node.func.value))


def _leaves(node: ast.AST) -> Iterator[ast.AST]:
    """The values a reason expression can take: both arms of ``a if c else b``, each of ``a or b``."""
    if isinstance(node, ast.IfExp):
        yield from _leaves(node.body)
        yield from _leaves(node.orelse)
    elif isinstance(node, ast.BoolOp):
        for v in node.values:
            yield from _leaves(v)
    else:
        yield node


def _callables_with_reason(tree: ast.Module) -> dict[str, int]:
    """Functions and dataclass-like classes of a module -> the position of their reason parameter."""
    out: dict[str, int] = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names = [a.arg for a in node.args.posonlyargs + node.args.args]
            if names and names[0] in ("self", "cls"):
                names = names[1:]
        elif isinstance(node, ast.ClassDef):
            names = [s.target.id for s in node.body if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name)]
        else:
            continue
        for i, n in enumerate(names):
            if n in REASON_FIELDS:
                out[node.name] = i
    return out


def _reason_adders(tree: ast.Module) -> set[str]:
    """Local names bound to a reason collection's method: ``add = reasons.add``."""
    return {t.id for node in ast.walk(tree) if isinstance(node, ast.Assign) and isinstance(node.value, ast.Attribute)
            and node.value.attr in ("add", "append") and isinstance(node.value.value, ast.Name)
            and "reason" in node.value.value.id for t in node.targets if isinstance(t, ast.Name)}


def _reason_positions(tree: ast.Module) -> Iterator[tuple[ast.AST, str]]:
    """(value node, context) for every place the module writes a reason."""
    local = _callables_with_reason(tree)
    adders = _reason_adders(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            for kw in node.keywords:
                if kw.arg in REASON_FIELDS:
                    yield kw.value, f"{name}({kw.arg}=)"
            if isinstance(func, ast.Name) and func.id in local and len(node.args) > local[func.id]:
                yield node.args[local[func.id]], func.id
            if isinstance(func, ast.Name) and func.id in adders and node.args:
                yield node.args[0], func.id
            if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and "reason" in func.value.id:
                if func.attr in ("append", "add") and node.args:
                    yield node.args[0], f"{func.value.id}.{func.attr}"
                elif func.attr == "insert" and len(node.args) == 2:
                    yield node.args[1], f"{func.value.id}.insert"
        elif isinstance(node, ast.Dict):
            for k, v in zip(node.keys, node.values, strict=True):
                if k is not None and _is_str(k) and k.value in REASON_FIELDS:  # type: ignore[attr-defined]
                    yield v, f"{{{k.value!r}: ...}}"  # type: ignore[attr-defined]
        elif isinstance(node, (ast.Assign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                pairs = (zip(target.elts, node.value.elts, strict=False) if isinstance(target, ast.Tuple) and
                         isinstance(node.value, ast.Tuple) else [(target, node.value)])
                for t, v in pairs:
                    if isinstance(t, ast.Attribute) and t.attr in REASON_FIELDS:
                        yield v, f".{t.attr} ="
                    elif isinstance(t, ast.Name) and t.id == "reason":
                        yield v, "reason ="
                    elif isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name) and "drop" in t.value.id:
                        yield t.slice, f"{t.value.id}[...]"
                    # reason lists: `reasons = [...]`, `found[stage] = [...]`
                    if isinstance(v, ast.List) and (
                            (isinstance(t, ast.Name) and "reason" in t.id)
                            or (isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name)
                                and t.value.id in ("found", "reasons"))):
                        for elt in v.elts:
                            yield elt, "reason list"
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("check_"):
            for sub in ast.walk(node):
                if isinstance(sub, ast.Return) and isinstance(sub.value, (ast.List, ast.IfExp)):
                    for leaf in _leaves(sub.value):
                        for elt in leaf.elts if isinstance(leaf, ast.List) else []:
                            yield elt, f"{node.name} returns"


def scan_source(root: Path = ROOT) -> list[Hit]:
    """Literal reasons not in the registry, and reasons composed at run time."""
    from distill.agent.protocol import INVALID_REASONS

    step_vocabulary = set(INVALID_REASONS) | {"repeated_call"}
    hits: list[Hit] = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            rel = path.relative_to(root).as_posix()
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=rel)
            for value, context in _reason_positions(tree):
                head = context.split("(")[0]
                if (rel, head) in NOT_DROP_REASONS or (rel, context.split("(")[-1].rstrip("=)")) in NOT_DROP_REASONS:
                    continue
                for leaf in _leaves(value):
                    if _composed(leaf):
                        hits.append(Hit(rel, leaf.lineno, "composed", f"{ast.unparse(leaf)} ({context})"))
                    elif _is_str(leaf) and leaf.value not in REGISTRY:  # type: ignore[attr-defined]
                        text = leaf.value  # type: ignore[attr-defined]
                        if rel.startswith(STEP_VOCABULARY_DIR) and text in step_vocabulary:
                            continue
                        hits.append(Hit(rel, leaf.lineno, "undeclared", f"{text!r} ({context})"))
    return hits


def test_source_writes_only_declared_constant_reasons() -> None:
    hits = scan_source()
    assert not hits, "declare these in crawl/drop_reasons.py and use the constant:\n" + "\n".join(map(str, hits))


def test_scan_finds_planted_literals_and_composed_reasons(tmp_path: Path) -> None:
    """The scan is not vacuous: each way of writing a reason it guards is caught (lines marked ``# HIT``)."""
    bad = '''from dataclasses import dataclass

@dataclass
class Row:
    url: str
    invalid_reason: str = ""

def check_thing(t):
    return ["not_a_declared_reason"]  # HIT undeclared

def check_other(t):
    return ["near_empty"] if t else []

def stage(page, status, result, found, drops):
    reasons = []
    add = reasons.append
    add(f"http_{status}")  # HIT composed
    reasons.append("bogus_append")  # HIT undeclared
    reasons.insert(0, "made_up_one")  # HIT undeclared
    page.invalid_reason = "parse_error: " + str(status)  # HIT composed
    page.invalid_reason, page.invalid_detail = "parse_error", "fine: the detail is separate"
    Row("u", "another_made_up")  # HIT undeclared
    found["validity"] = ["invented_here"]  # HIT undeclared
    drops["freshly_invented"] += 1  # HIT undeclared
    x = {"reason": f"llm_error:{result.error}", "stage": "generate"}  # HIT composed
    y = {"reason": "{}:{}".format("judge", result.error)}  # HIT composed
    return Row(url="u", invalid_reason="near_empty" if status else "yet_another")  # HIT undeclared
'''
    (tmp_path / "crawl").mkdir()
    (tmp_path / "crawl" / "planted.py").write_text(bad, encoding="utf-8")
    for package in PACKAGES[1:]:
        (tmp_path / package).mkdir()
    want = sorted((i, line.split("# HIT ")[1]) for i, line in enumerate(bad.splitlines(), start=1) if "# HIT " in line)
    assert sorted((h.line, h.what) for h in scan_source(tmp_path)) == want
    # ... and it does look at the real code: the trajectory rules write reasons in many places
    tree = ast.parse((ROOT / "filters" / "rules.py").read_text(encoding="utf-8"))
    assert len(list(_reason_positions(tree))) >= 15


# ---------------------------------------------------------------------------
# run time: an undeclared reason fails loudly
# ---------------------------------------------------------------------------


def test_planted_undeclared_reason_fails_run_filters(monkeypatch: pytest.MonkeyPatch) -> None:
    import filters.pipeline as pipeline

    ts = [good(0), good(1, think="Another plan: read the charter."), traj(call("look"), seed=2)]
    assert pipeline.run_filters(ts).decisions  # the real rules: fine
    monkeypatch.setattr(pipeline, "check_bounds", lambda t, s=None: ["not_a_declared_reason"])
    with pytest.raises(UndeclaredReason, match="not_a_declared_reason"):
        pipeline.run_filters(ts)
    # ... also when it is not the reason the funnel counts (a record's second problem)
    monkeypatch.setattr(pipeline, "check_bounds", lambda t, s=None: [])
    monkeypatch.setattr(pipeline, "check_repetition", lambda t, s=None: ["made_up_second_problem"])
    with pytest.raises(UndeclaredReason, match="made_up_second_problem"):
        pipeline.run_filters([traj(call("look"), answer("ok", "Ada Brun"))])


def test_planted_undeclared_reason_fails_the_funnel() -> None:
    from filters.funnel import Funnel

    f = Funnel()
    f.add_stage("validity", 3, {R.NOT_FINISHED: 1, "crawlqa:judge_reject": 1})
    with pytest.raises(UndeclaredReason, match="not_a_declared_reason"):
        f.add_stage("bounds", 1, {"not_a_declared_reason": 1})
    with pytest.raises(UndeclaredReason):
        f.add_stage("bounds", 1, ["not_finished:max_turns"])
    with pytest.raises(UndeclaredReason):
        f.record("validity", "bad_json")
    f.record("validity", R.EMPTY_ANSWER)
    assert f.stage("validity").drops[R.EMPTY_ANSWER] == 1
