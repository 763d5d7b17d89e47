"""Majority voting, MinHash near-duplicates (against datasketch), the funnel and run_filters."""

from __future__ import annotations

import random

import datasketch
import numpy as np
import pytest

from distill.minhash import signatures, word_shingle_hashes
from filters.dedup import DedupSettings, near_duplicates
from filters.funnel import Funnel
from filters.funnel_chart import funnel_png, png_markdown
from filters.pipeline import FilterSettings, run_filters
from filters.voting import VoteSettings, majority_vote
from trajectory_factory import answer, call, good, traj


def test_majority_agrees_with_reference() -> None:
    ts = [good(0, "Ada Brun"), good(1, "ada brun."), good(2, "Carl Ode")]
    votes = majority_vote(ts)
    assert [round(votes[t.id].share, 3) for t in ts] == [0.667, 0.667, 0.333]
    assert [votes[t.id].reasons(VoteSettings()) for t in ts] == [[], [], ["minority_answer"]]


def test_sentence_answers_vote_by_the_entity_they_state() -> None:
    """Strong models answer in sentences: the bolded entity votes, not the whole wording."""
    ts = [good(0, "The institute was founded by **Ada Brun** in 1990."), good(1, "**Ada Brun** founded it."),
          good(2, "It was founded by **Carl Ode**.")]
    votes = majority_vote(ts)
    assert [round(votes[t.id].share, 3) for t in ts] == [0.667, 0.667, 0.333]
    assert votes[ts[0].id].reasons(VoteSettings()) == [] and votes[ts[0].id].agrees_reference
    wrong = [good(0, "It was **Carl Ode**."), good(1, "The founder is **Carl Ode**, not Ada Brun.")]
    assert majority_vote(wrong)[wrong[0].id].reasons(VoteSettings()) == ["majority_disagrees_reference"]


def test_wrong_majority_tie_and_single_rollout() -> None:
    wrong = [good(0, "Carl Ode"), good(1, "Carl Ode"), good(2, "Ada Brun")]
    votes = majority_vote(wrong)
    assert votes[wrong[0].id].reasons(VoteSettings()) == ["majority_disagrees_reference"]
    assert votes[wrong[0].id].reasons(VoteSettings(require_reference=False)) == []
    assert votes[wrong[2].id].reasons(VoteSettings()) == ["minority_answer"]  # right but outvoted: noise
    tie = [good(0, "Ada Brun"), good(1, "Carl Ode")]
    assert all(v.reasons(VoteSettings()) == ["minority_answer"] for v in majority_vote(tie).values())
    single = good(0)
    assert majority_vote([single])[single.id].share == 1.0
    unfinished = traj(call("look"), seed=5)
    both = majority_vote([single, unfinished])
    assert both[unfinished.id].share == 0.0 and both[single.id].share == 1.0  # only finished rollouts vote
    other_style = good(1, "Carl Ode")
    other_style.style = "long"
    assert majority_vote([single, other_style])[single.id].share == 1.0  # grouped by style


def test_minhash_signatures_equal_datasketch() -> None:
    rng = random.Random(0)
    words = [f"w{i}" for i in range(300)]
    texts = [" ".join(rng.choice(words) for _ in range(rng.randint(1, 60))) for _ in range(20)] + ["", "Ünïcode ok"]
    hashes, doc = word_shingle_hashes(texts, 5)
    sig = signatures(hashes, doc, len(texts), 128, seed=1)
    for i in range(len(texts)):
        mine = [int(h) for h in hashes[doc == i]]
        if not mine:
            assert (sig[i] == np.uint32(0xFFFFFFFF)).all()
            continue
        ref = datasketch.MinHash(num_perm=128, seed=1, hashfunc=lambda v: v)
        ref.update_batch(mine)
        assert np.array_equal(ref.hashvalues.astype(np.uint32), sig[i]), i


def test_shingles_are_deterministic_and_near_duplicates_found() -> None:
    a = " ".join(f"The agent searched for founder number {i} of the Skerry Institute and read the page."
                  for i in range(8))  # ~100 words
    b = a.replace("number 3", "number three")  # one word changed: 5 of ~100 shingles differ
    c = "A completely different trajectory about GitHub repositories and their licences across many projects"
    h1, _ = word_shingle_hashes([a, c])
    h2, _ = word_shingle_hashes([a, c])
    assert np.array_equal(h1, h2)
    assert near_duplicates([a, b, c, a.upper()]) == [None, 0, None, 0]
    assert near_duplicates([a, b], DedupSettings(threshold=0.99)) == [None, None]


def test_funnel_counts_each_record_once() -> None:
    f = Funnel()
    f.add_stage("validity", 10, {"invalid_action": 2, "not_finished": 1})
    f.add_stage("correctness", 7, {"answer_not_matched": 3})
    assert [s.kept for s in f.stages] == [7, 4]
    md = f.to_markdown()
    assert "| validity | 10 | 3 | 7 |" in md and "answer_not_matched 3" in md
    assert Funnel.from_rows(f.to_rows()).to_dict() == f.to_dict()
    with pytest.raises(ValueError):
        f.add_stage("x", 1, {"near_duplicate": 2})
    assert f.merge(f).stage("validity").n_in == 20


def test_funnel_chart(tmp_path) -> None:  # type: ignore[no-untyped-def]
    f = Funnel()
    f.add_stage("rollouts", 100, {"invalid_action": 40})
    f.add_stage("sft", 60, {"too_long": 1})
    path = funnel_png(f, tmp_path / "funnel.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png_markdown(path).startswith("![funnel](data:image/png;base64,")


def test_run_filters_decisions_and_funnel() -> None:
    ts = [good(0), good(1, think="A quite different plan: check the institute's charter first."),
          good(2, "Carl Ode", think="Look at the staff list of the institute."), traj(call("look"), seed=3),
          good(4)]  # good(4) differs from good(0) only by its attempt number: a near-duplicate
    result = run_filters(ts)
    by = {d.id: d for d in result.decisions}
    assert [by[t.id].stage_dropped for t in ts] == ["", "", "correctness", "validity", "dedup"]
    assert by[ts[4].id].reasons == ["near_duplicate"]
    assert [t.id for t in result.kept] == [ts[0].id, ts[1].id]
    assert by[ts[0].id].vote_share == 1.0  # voters: the three that passed correctness, all "Ada Brun"
    assert result.funnel.to_dict()["dedup"] == {"in": 3, "kept": 2, "drops": {"near_duplicate": 1}}
    recorded = run_filters(ts, FilterSettings(stages=("validity", "repetition", "bounds", "voting", "dedup"),
                                              voting=VoteSettings(require_reference=False)))
    rec = {d.id: d for d in recorded.decisions}
    assert rec[ts[2].id].f1 == 0.0 and rec[ts[2].id].stage_dropped == "voting"  # scores recorded, not enforced
    with pytest.raises(ValueError):
        run_filters(ts, FilterSettings(stages=("validity", "magic")))


def test_contamination_is_the_first_filter_stage() -> None:
    """A benchmark question's rollouts are dropped first, with the match's reason, and nothing
    else is computed for them: no rule, score, vote, nor a judge call."""
    from filters.contamination import Match

    bench = "Who founded the Skerry Institute?"
    ts = [good(0), good(1, think="A second plan: the institute's charter."),
          traj(call("look"), answer("ok", "Lena Moor"), qid="q2", question="Where is the Moor lighthouse?"),
          traj(call("look"), answer("ok", "Lena Moor"), qid="q2", question="Where is the Moor lighthouse?", seed=1)]
    asked: list[str] = []

    def judge(clean):  # type: ignore[no-untyped-def]
        asked.extend(t.id for t in clean)
        return {}

    result = run_filters(ts, judge=judge,
                         benchmark=lambda q: Match(q, "hotpot_dev.json", "exact", 1.0) if q == bench else None)
    by = {d.id: d for d in result.decisions}
    for t in ts[:2]:
        d = by[t.id]
        assert (d.keep, d.reasons, d.stage_dropped) == (False, ["benchmark_exact"], "contamination")
        assert (d.vote_share, d.f1, d.em, d.rule_correct, d.answer_span) == (None, None, None, None, None)
    assert asked == [ts[2].id, ts[3].id] and set(result.matches) == {bench}
    assert result.matches[bench].file == "hotpot_dev.json"
    funnel = result.funnel.to_dict()
    assert list(funnel)[:2] == ["contamination", "validity"]
    assert funnel["contamination"] == {"in": 4, "kept": 2, "drops": {"benchmark_exact": 2}}
    assert funnel["validity"]["in"] == 2
    # Without a matcher the stage is there and drops nothing; left out of the stages, it is gone.
    assert run_filters(ts).funnel.to_dict()["contamination"] == {"in": 4, "kept": 4, "drops": {}}
    assert "contamination" not in run_filters(ts, FilterSettings(stages=("validity",))).funnel.to_dict()


def test_duplicate_chains_resolve_to_the_first_of_the_group() -> None:
    from filters.dedup import duplicates_of

    sig = np.array([[1, 1, 1, 1], [1, 1, 1, 2], [1, 1, 2, 2], [7, 7, 7, 7]], dtype=np.uint32)
    keys = np.array([[10, 20], [10, 21], [11, 21], [12, 22]], dtype=np.uint64)  # 0~1 share band 0, 1~2 band 1
    empty = np.zeros(4, dtype=bool)
    assert duplicates_of(sig, keys, empty, 0.75).tolist() == [-1, 0, 0, -1]
    assert duplicates_of(sig, keys, empty, 1.0).tolist() == [-1, -1, -1, -1]  # same bucket, not similar enough
    assert duplicates_of(sig, keys, np.array([False, True, False, False]), 0.75).tolist() == [-1, -1, -1, -1]
