"""The RL rewards, in one place: Atom-Searcher's and WebDancer's, as TRL reward functions.

Atom-Searcher (REFERENCE §5): R = :data:`FORMAT_PENALTY` (-1) when the rollout breaks the
format, otherwise ``alpha_T * ATR + (1 - alpha_T) * F1`` with ``alpha_T = alpha_0 * (1 - T / T_max)``:
early in training the process reward (the RRM's grades of the atomic thoughts) guides
exploration, later the outcome decides. WebDancer's alternative is ``0.1 * format + 0.9 * correct``,
correctness judged by an LLM (the ``judge`` role, :data:`AnswerJudge`) as in the paper, or by
outcome F1 when no judge is bound.

:func:`atom_searcher_reward` and :func:`webdancer_reward` have TRL's reward-function shape,
``(completions, **kwargs) -> list[float]``: the dataset's columns (``answer``, ``aliases``,
``question``) and the fields a ``rollout_func`` returns (``turns``, ``thoughts``,
``observations``) arrive as keyword lists with one entry per completion, ``trainer_state``
gives the step of the curriculum and ``log_metric`` takes the reward's parts. Settings
(tool names, ``alpha0``, the RRM ``scorer``) are keyword arguments to bind;
:class:`train.rl_runner.RolloutReward` is that binding for seekforge's trainer.

They are made of these pieces, each a pure function of text and numbers, unit-tested on its own:

- format: :func:`check_format` (tags per turn by :func:`filters.rules.tag_problem`, the same check
  the trajectory filters apply; the action by :func:`distill.agent.protocol.parse_turn`);
- outcome: :func:`outcome_f1`, DeepResearcher's word F1 (:data:`REWARD_F1`) against the reference
  and its aliases (:func:`filters.metrics.best_f1`);
- process: :func:`thoughts_for_rrm` (what the RRM grades), :func:`rollout_atr` (one batch call to
  the RRM), :func:`aggregate_atr` (one ATR from a rollout's grades);
- schedule and blends: :func:`curriculum_alpha`, :func:`atom_searcher_blend`, :func:`webdancer_blend`;
- entity coverage (optional, E-GRPO): :func:`entity_coverage` (the share of the question's path
  entities a rollout names) and :func:`entity_credit` (partial credit for it).

Where the RRM gave no usable grade (ATR ``None``), the blend falls back to F1 alone instead of
inventing a process score.

The entity-coverage term (off at ``entity_alpha`` 0): a QA pair was built along a path of
entities (CRAWLQA's chain pages, the entities E2HQA hid), carried by ``rl_dataset`` as the
``path_entities`` column. A wrong answer reached after finding most of them is closer than one
that found none, and a binary outcome cannot tell them apart (E-GRPO reports alpha about 0.3
best). Exactly how it blends, for a format-valid rollout with coverage ``c`` (a broken format
gets no credit: the penalty stays a penalty):

- ``outcome' = outcome + alpha * c * (1 - outcome)``, with ``outcome`` the F1 (atom_searcher) or
  the correctness 1/0 (webdancer) the reward would otherwise use;
- atom_searcher: ``alpha_T * ATR + (1 - alpha_T) * outcome'``; webdancer: ``0.1 * format + 0.9 * outcome'``.

So a correct answer (outcome 1) is unchanged, a wrong one (webdancer; F1 0) gets ``alpha * c``,
and for ``alpha < 1`` (enforced) an answer short of correct never reaches a correct one's reward
at equal format and ATR. Coverage is read in what the model wrote (its turns: thoughts, tool
calls, answer), as E-GRPO matches entities in the agent's reasoning: counting the observations
would reward dumping many search results instead of identifying the entities.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from distill.agent.atomic import parse_units
from distill.agent.protocol import parse_turn
from distill.agent.trajectory import AtomicUnit
from filters.metrics import Metric, answer_tokens, best_f1, contains_tokens
from filters.rules import tag_problem

Aggregation = Literal["mean", "min", "late_weighted"]

#: A batch of (question, thoughts, context) -> per item, one grade in [0, 1] or None per thought.
#: One call per reward batch, so an RRM endpoint grades a whole group concurrently.
ThoughtScorer = Callable[[Sequence[tuple[str, Sequence[AtomicUnit], str]]], list[list[float | None]]]

#: A batch of (question, reference, aliases, answer) -> per item, the judge's verdict (None: no
#: verdict, e.g. the call failed). One call per reward batch, like :data:`ThoughtScorer`.
AnswerJudge = Callable[[Sequence[tuple[str, str, Sequence[str], str]]], list[bool | None]]

#: The reward of a rollout that breaks the protocol (Atom-Searcher).
FORMAT_PENALTY: Final = -1.0
#: The outcome F1 of both rewards: DeepResearcher's (see :mod:`filters.metrics`).
REWARD_F1: Final[Metric] = "deepresearcher"
#: Atom-Searcher's initial weight of the process reward.
ALPHA0: Final = 0.5
#: WebDancer's weights of format and correctness, and the F1 at which an answer counts as correct.
WEBDANCER_FORMAT_WEIGHT: Final = 0.1
WEBDANCER_CORRECT_WEIGHT: Final = 0.9
WEBDANCER_CORRECT_F1: Final = 0.8
#: The tools seekforge's agent is offered (the default ``tool_names``).
AGENT_TOOLS: Final = frozenset({"search", "visit"})
#: The RRM sees this many trailing characters of a rollout's observations as context.
ATR_CONTEXT_CHARS: Final = 4000
#: Weight of the entity-coverage term: off unless a recipe turns it on (E-GRPO reports about 0.3 best).
ENTITY_ALPHA: Final = 0.0


@dataclass(frozen=True, slots=True)
class FormatVerdict:
    valid: bool
    reason: str = ""  # first problem found; "" when valid
    answer: str = ""  # the final <answer> text when valid


def check_format(assistant_turns: Sequence[str], tool_names: Iterable[str] = AGENT_TOOLS) -> FormatVerdict:
    """Whether a rollout's assistant turns follow the protocol: per turn, balanced and ordered
    tags (``<think>`` first, then exactly one action), valid tool-call JSON naming a known tool,
    no self-written ``<tool_response>``; tool calls on every turn but the last, which answers.

    >>> call = '<think>look</think><tool_call>{"name": "search", "arguments": {"query": ["x"]}}</tool_call>'
    >>> check_format([call, "<think>found</think><answer> Paris </answer>"])
    FormatVerdict(valid=True, reason='', answer='Paris')
    >>> check_format(["<answer>Paris</answer><think>hm</think>"]).reason
    'turn0:think_after_action'
    >>> check_format([call]).reason
    'no_answer'
    """
    names = frozenset(tool_names)
    if not assistant_turns:
        return FormatVerdict(False, "no_turns")
    for i, text in enumerate(assistant_turns):
        problem = tag_problem(text)
        if problem:
            return FormatVerdict(False, f"turn{i}:{problem}")
        turn = parse_turn(text, names)
        if turn.invalid_reason:
            return FormatVerdict(False, f"turn{i}:{turn.invalid_reason}")
        last = i == len(assistant_turns) - 1
        if turn.action == "answer" and not last:
            return FormatVerdict(False, f"turn{i}:answer_before_end")
        if last and turn.action != "answer":
            return FormatVerdict(False, "no_answer")
        if last:
            return FormatVerdict(True, "", turn.answer.strip())
    return FormatVerdict(False, "no_answer")  # unreachable; keeps type checkers content


def outcome_f1(answer: str, reference: str, aliases: Sequence[str] | None = (), *, metric: Metric = REWARD_F1) -> float:
    """Word F1 of the answer against the reference, max over aliases (DeepResearcher's reward by default).

    >>> outcome_f1("the city of Paris", "Paris")
    0.4
    >>> outcome_f1("Lutetia", "Paris", ["Lutetia"])
    1.0
    """
    golds = [g for g in (reference, *(aliases or ())) if g]
    return best_f1(answer, golds, variant=metric) if golds and answer else 0.0


def thoughts_for_rrm(turn_thoughts: Sequence[str]) -> list[AtomicUnit]:
    """What the RRM grades: the top-level atomic units of every turn's thought; a thought
    without units is one ``THOUGHT`` unit, an empty one nothing.

    >>> [(u.tag, u.text) for u in thoughts_for_rrm(["<PLAN>a</PLAN><VERIFY>b</VERIFY>", "plain", " "])]
    [('PLAN', 'a'), ('VERIFY', 'b'), ('THOUGHT', 'plain')]
    """
    out: list[AtomicUnit] = []
    for think in turn_thoughts:
        units = [u for u in parse_units(think) if u.depth == 0] if "<" in think else []
        out.extend(units or ([AtomicUnit(tag="THOUGHT", text=think.strip())] if think.strip() else []))
    return out


def aggregate_atr(scores: Sequence[float | None], how: Aggregation = "mean") -> float | None:
    """One process reward from per-thought grades; ungraded thoughts are skipped.
    ``late_weighted`` weights thought i by i+1 (later thoughts carry the conclusion).

    >>> aggregate_atr([0.2, None, 0.8])
    0.5
    >>> aggregate_atr([0.0, 1.0], "late_weighted")
    0.6666666666666666
    >>> aggregate_atr([None, None]) is None
    True
    """
    graded = [s for s in scores if s is not None]
    if not graded:
        return None
    if how == "mean":
        return sum(graded) / len(graded)
    if how == "min":
        return min(graded)
    if how == "late_weighted":
        weights = range(1, len(graded) + 1)
        return sum(w * s for w, s in zip(weights, graded, strict=True)) / sum(weights)
    raise ValueError(f"unknown ATR aggregation {how!r}; use mean, min or late_weighted")


def rollout_atr(scorer: ThoughtScorer, question: Sequence[str], thoughts: Sequence[Sequence[str]],
                observations: Sequence[Sequence[str]] | None, valid: Sequence[bool], how: Aggregation = "mean",
                stats: dict[str, int] | None = None) -> list[float | None]:
    """ATR per rollout: the thoughts of the format-valid rollouts that have any go to the RRM in
    one batch, with the last :data:`ATR_CONTEXT_CHARS` of their observations as context; the
    others, and those the RRM graded nothing of, get None.

    ``stats`` counts coverage: ``atr_asked`` (rollouts sent) and ``atr_graded`` (came back with
    at least one grade); a dead RRM would otherwise turn the reward into F1 alone without a word.

    >>> stats = {}
    >>> rollout_atr(lambda items: [[1.0, None]] * len(items), ["q", "q"], [["<PLAN>a</PLAN><PLAN>b</PLAN>"], ["c"]],
    ...             None, [True, False], stats=stats)
    [1.0, None]
    >>> stats
    {'atr_asked': 1, 'atr_graded': 1}
    """
    atrs: list[float | None] = [None] * len(valid)
    asks = [(i, thoughts_for_rrm(thoughts[i])) for i, ok in enumerate(valid) if ok]
    asks = [(i, units) for i, units in asks if units]
    if not asks:
        return atrs
    context = ["\n\n".join(observations[i] if observations else ())[-ATR_CONTEXT_CHARS:] for i, _ in asks]
    grades = scorer([(question[i], units, ctx) for (i, units), ctx in zip(asks, context, strict=True)])
    for (i, _), g in zip(asks, grades, strict=True):
        atrs[i] = aggregate_atr(g, how)
    if stats is not None:
        stats["atr_asked"] = stats.get("atr_asked", 0) + len(asks)
        stats["atr_graded"] = stats.get("atr_graded", 0) + sum(atrs[i] is not None for i, _ in asks)
    return atrs


def curriculum_alpha(step: int, max_steps: int, alpha0: float = ALPHA0) -> float:
    """alpha_T = alpha_0 * (1 - T / T_max), clipped to [0, alpha_0].

    >>> curriculum_alpha(0, 100), curriculum_alpha(50, 100), curriculum_alpha(150, 100)
    (0.5, 0.25, 0.0)
    """
    if max_steps <= 0:
        raise ValueError("max_steps must be positive")
    return alpha0 * min(1.0, max(0.0, 1.0 - step / max_steps))


def atom_searcher_blend(valid: bool, f1: float, atr: float | None, alpha: float) -> float:
    """One rollout's Atom-Searcher reward from its parts.

    >>> atom_searcher_blend(False, 1.0, 1.0, 0.5)
    -1.0
    >>> atom_searcher_blend(True, 0.4, 0.8, 0.5)
    0.6000000000000001
    >>> atom_searcher_blend(True, 0.4, None, 0.5)  # no usable RRM grade: the outcome alone
    0.4
    """
    if not valid:
        return FORMAT_PENALTY
    if atr is None:
        return f1
    return alpha * atr + (1.0 - alpha) * f1


def webdancer_blend(valid: bool, correct: float) -> float:
    """One rollout's WebDancer reward: 0.1 * format + 0.9 * correct (1 or 0, or a wrong answer's
    :func:`entity_credit`).

    >>> webdancer_blend(True, True), webdancer_blend(True, False), webdancer_blend(False, False)
    (1.0, 0.1, 0.0)
    >>> round(webdancer_blend(True, 0.15), 6)  # a wrong answer that found half the path entities, alpha 0.3
    0.235
    """
    return WEBDANCER_FORMAT_WEIGHT * float(valid) + WEBDANCER_CORRECT_WEIGHT * float(correct)


def entity_coverage(texts: Sequence[str], entities: Sequence[str] | None) -> float | None:
    """Share of ``entities`` named in any of ``texts`` as whole tokens (cover-EM normalisation:
    case, accents, punctuation and articles do not matter); None when there are no entities,
    so a question without a recorded path gets no credit rather than a made-up one.

    >>> entity_coverage(["<think>The Velde flows through Orsund.</think>"], ["Orsund", "Kaldberg"])
    0.5
    >>> entity_coverage(["the ORSUND bridge"], ["Orsund"]), entity_coverage(["Orsundberg"], ["Orsund"])
    (1.0, 0.0)
    >>> entity_coverage(["anything"], []) is None
    True
    """
    wanted = [tokens for tokens in (answer_tokens(e) for e in entities or ()) if tokens]
    if not wanted:
        return None
    haystacks = [answer_tokens(t) for t in texts]
    return sum(any(contains_tokens(h, w) for h in haystacks) for w in wanted) / len(wanted)


def check_entity_alpha(alpha: float) -> float:
    """``alpha`` if it is in [0, 1): at 1 a wrong answer that names every path entity would earn
    a correct one's reward."""
    if not 0.0 <= alpha < 1.0:
        raise ValueError(f"entity alpha must be in [0, 1), got {alpha}")
    return alpha


def entity_credit(outcome: float, coverage: float | None, alpha: float) -> float:
    """The outcome with partial credit for path entities: ``outcome + alpha * coverage * (1 - outcome)``.

    Only the gap to a correct answer is credited, so a correct answer (1) keeps 1 and, for
    alpha < 1, nothing short of correct reaches it. No coverage (None) or alpha 0: unchanged.

    >>> entity_credit(0.0, 0.5, 0.3)  # a wrong answer that found half the path
    0.15
    >>> entity_credit(1.0, 1.0, 0.3), entity_credit(0.4, None, 0.3), entity_credit(0.4, 1.0, 0.0)
    (1.0, 0.4, 0.4)
    >>> entity_credit(0.5, 1.0, 0.3)  # an F1 of 0.5: 0.3 of the remaining 0.5
    0.65
    """
    if not alpha or coverage is None:
        return outcome
    return outcome + check_entity_alpha(alpha) * coverage * (1.0 - outcome)


def rollout_coverages(texts: Sequence[Sequence[str]], path_entities: Sequence[Sequence[str] | None] | None,
                      valid: Sequence[bool], alpha: float) -> list[float | None]:
    """Entity coverage per rollout: None where the term cannot apply (alpha 0, a broken format,
    a question without path entities). With alpha > 0 the ``path_entities`` column is required:
    a run asking for the term on a dataset without it must fail, not train without it.

    >>> rollout_coverages([["<answer>Orsund</answer>"], ["x"]], [["Orsund"], ["Orsund"]], [True, False], 0.3)
    [1.0, None]
    """
    if not check_entity_alpha(alpha):
        return [None] * len(valid)
    if path_entities is None:
        raise ValueError("the entity-coverage term (entity alpha > 0) needs the path_entities column; "
                         "re-materialize rl_dataset")
    return [entity_coverage(t, e) if ok else None for t, e, ok in zip(texts, path_entities, valid, strict=True)]


def completion_turns(completion: str | Sequence[Mapping[str, Any]]) -> list[str]:
    """The assistant turns of one TRL completion: a string is one turn, a conversation gives
    its assistant messages.

    >>> completion_turns([{"role": "assistant", "content": "a"}, {"role": "user", "content": "b"}])
    ['a']
    """
    if isinstance(completion, str):
        return [completion]
    return [str(m.get("content") or "") for m in completion if m.get("role") == "assistant"]


def _texts(completions: Sequence[Any], turns: Sequence[Sequence[str]] | None) -> Sequence[Sequence[str]]:
    """Each rollout's assistant turns: the ``turns`` column when given, else read off the completion."""
    return turns if turns is not None else [completion_turns(c) for c in completions]


def _outcomes(texts: Sequence[Sequence[str]], answer: Sequence[str], aliases: Sequence[Sequence[str] | None] | None,
              tool_names: Iterable[str], metric: Metric) -> tuple[list[FormatVerdict], list[float]]:
    """Format verdict and outcome F1 (0 for a broken format) of every rollout."""
    names = frozenset(tool_names)
    verdicts = [check_format(t, names) for t in texts]
    f1s = [outcome_f1(v.answer, answer[i], aliases[i] if aliases else (), metric=metric) if v.valid else 0.0
           for i, v in enumerate(verdicts)]
    return verdicts, f1s


def _log_means(log_metric: Callable[[str, float], None] | None, parts: Mapping[str, Sequence[float]]) -> None:
    if log_metric is None:
        return
    for name, values in parts.items():
        if values:
            log_metric(f"reward/{name}", sum(values) / len(values))


def atom_searcher_reward(completions: Sequence[Any], *, answer: Sequence[str],
                         aliases: Sequence[Sequence[str] | None] | None = None,
                         turns: Sequence[Sequence[str]] | None = None, question: Sequence[str] | None = None,
                         thoughts: Sequence[Sequence[str]] | None = None,
                         observations: Sequence[Sequence[str]] | None = None, trainer_state: Any = None,
                         scorer: ThoughtScorer | None = None, stats: dict[str, int] | None = None,
                         tool_names: Iterable[str] = AGENT_TOOLS, alpha0: float = ALPHA0, max_steps: int = 0,
                         atr_aggregation: Aggregation = "mean", f1_metric: Metric = REWARD_F1,
                         path_entities: Sequence[Sequence[str] | None] | None = None,
                         entity_alpha: float = ENTITY_ALPHA,
                         log_metric: Callable[[str, float], None] | None = None, **_: Any) -> list[float]:
    """Atom-Searcher's reward per completion: :data:`FORMAT_PENALTY` for a broken format, else
    ``alpha_T * ATR + (1 - alpha_T) * F1``; with ``entity_alpha`` > 0 the F1 is first given
    :func:`entity_credit` for the ``path_entities`` the rollout named (module docstring).

    ``turns`` (the rollout's assistant texts) is read when given, else the completion itself
    (:func:`completion_turns`). ATR needs a ``scorer`` (the RRM, see :func:`rollout_atr`) and the
    ``question`` and ``thoughts`` columns; without one the reward is F1 alone. alpha_T follows
    ``trainer_state``'s ``global_step`` / ``max_steps`` (``max_steps`` here when the state has none).

    >>> done = "<think>found it</think><answer>Ada Rinn</answer>"
    >>> atom_searcher_reward([done, "Ada Rinn"], answer=["Ada Rinn", "Ada Rinn"])
    [1.0, -1.0]
    >>> half = lambda items: [[0.5] * len(units) for _, units, _ in items]
    >>> atom_searcher_reward([done], answer=["Ada Rinn"], question=["Who?"], thoughts=[["found it"]], scorer=half)
    [0.75]
    >>> lost = "<think>Orsund is the town; the founder?</think><answer>Bo Lind</answer>"
    >>> atom_searcher_reward([lost], answer=["Ada Rinn"], path_entities=[["Orsund", "Kaldberg"]], entity_alpha=0.3)
    [0.15]
    """
    step = int(getattr(trainer_state, "global_step", 0) or 0)
    total = int(getattr(trainer_state, "max_steps", 0) or max_steps) or 1
    alpha = curriculum_alpha(step, total, alpha0)
    texts = _texts(completions, turns)
    verdicts, f1s = _outcomes(texts, answer, aliases, tool_names, f1_metric)
    valid = [v.valid for v in verdicts]
    coverages = rollout_coverages(texts, path_entities, valid, entity_alpha)
    outcomes = [entity_credit(f1, c, entity_alpha) for f1, c in zip(f1s, coverages, strict=True)]
    atrs: list[float | None] = [None] * len(verdicts)
    if scorer is not None:
        if question is None or thoughts is None:
            raise ValueError("the ATR needs the question and thoughts columns next to the scorer")
        atrs = rollout_atr(scorer, question, thoughts, observations, valid, atr_aggregation, stats)
    if log_metric is not None:
        log_metric("reward/alpha", alpha)
    _log_means(log_metric, {"valid": [float(v) for v in valid], "f1": f1s, "atr": [a for a in atrs if a is not None],
                            "entity_coverage": [c for c in coverages if c is not None]})
    return [atom_searcher_blend(v, o, atr, alpha) for v, o, atr in zip(valid, outcomes, atrs, strict=True)]


def webdancer_reward(completions: Sequence[Any], *, answer: Sequence[str],
                     aliases: Sequence[Sequence[str] | None] | None = None,
                     turns: Sequence[Sequence[str]] | None = None, question: Sequence[str] | None = None,
                     tool_names: Iterable[str] = AGENT_TOOLS, judge: AnswerJudge | None = None,
                     stats: dict[str, int] | None = None, correct_f1: float = WEBDANCER_CORRECT_F1,
                     f1_metric: Metric = REWARD_F1, path_entities: Sequence[Sequence[str] | None] | None = None,
                     entity_alpha: float = ENTITY_ALPHA, log_metric: Callable[[str, float], None] | None = None,
                     **_: Any) -> list[float]:
    """WebDancer's reward per completion: 0.1 * format + 0.9 * correct; with ``entity_alpha`` > 0
    a wrong answer's 0 becomes ``entity_alpha`` times the share of ``path_entities`` it named
    (:func:`entity_credit`, module docstring).

    With a ``judge`` (WebDancer's LLM judge; needs the ``question`` column) the answers of
    well-formed rollouts are judged in one batch; ``stats`` counts ``judge_asked`` and
    ``judge_graded`` so a dead judge endpoint is visible (the caller fails on low coverage). An
    answer without a verdict, or every answer without a judge, is correct at an outcome F1 of
    at least ``correct_f1``.

    >>> completions = ["<think>so</think><answer>Ada Rinn</answer>", "<answer>Ada</answer>"]
    >>> webdancer_reward(completions, answer=["Ada Rinn", "Ada Rinn"])
    [1.0, 0.1]
    >>> lenient = lambda items: [True for _ in items]  # the judge accepts "Ada" where F1 does not
    >>> webdancer_reward(completions, answer=["Ada Rinn", "Ada Rinn"], question=["Who?", "Who?"], judge=lenient)
    [1.0, 1.0]
    >>> found = ["<think>Orsund, then Kaldberg</think><answer>Ada Rinn</answer>",
    ...          "<think>Orsund</think><answer>Bo</answer>"]
    >>> rewards = webdancer_reward(found, answer=["Ada Rinn"] * 2, path_entities=[["Orsund", "Kaldberg"]] * 2,
    ...                            entity_alpha=0.3)
    >>> [round(r, 6) for r in rewards]  # the wrong answer named Orsund: 0.1 + 0.9 * 0.3 * 1/2
    [1.0, 0.235]
    """
    texts = _texts(completions, turns)
    verdicts, f1s = _outcomes(texts, answer, aliases, tool_names, f1_metric)
    correct = [f1 >= correct_f1 for f1 in f1s]
    if judge is not None:
        if question is None:
            raise ValueError("the judge needs the question column")
        asked = [i for i, v in enumerate(verdicts) if v.valid and v.answer.strip()]
        judged = judge([(question[i], answer[i], list((aliases[i] if aliases else None) or ()), verdicts[i].answer)
                        for i in asked]) if asked else []
        for i, verdict in zip(asked, judged, strict=True):
            if verdict is not None:
                correct[i] = verdict
        if stats is not None:
            stats["judge_asked"] = stats.get("judge_asked", 0) + len(asked)
            stats["judge_graded"] = stats.get("judge_graded", 0) + sum(v is not None for v in judged)
    coverages = rollout_coverages(texts, path_entities, [v.valid for v in verdicts], entity_alpha)
    _log_means(log_metric, {"valid": [float(v.valid) for v in verdicts], "f1": f1s,
                            "correct": [float(c) for c in correct],
                            "entity_coverage": [c for c in coverages if c is not None]})
    return [webdancer_blend(v.valid, entity_credit(float(c), cov, entity_alpha))
            for v, c, cov in zip(verdicts, correct, coverages, strict=True)]
