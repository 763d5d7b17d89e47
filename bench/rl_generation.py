"""RL rollout generation: TRL's vLLM engine (colocate) vs HF ``generate``, same GPU, one run.

Usage (a CUDA machine with ``pip install -e '.[gpu]'``; the base model a local directory)::

    .venv/bin/python bench/rl_generation.py --model /models/qwen2.5-0.5b-instruct \\
        [--questions ../shared/qa/hotpotqa/dev_distractor_300.jsonl] [--prompts 8] [--generations 4] [--steps 2]

Each contestant runs ``--steps`` GRPO steps of ``rl_model``'s trainer (bf16) on the first
``--prompts`` questions of the file, ``--generations`` rollouts each, with the same multi-turn
tool loop and environment mask. The environment is a fixed observation (the same text for every
call), so both contestants see identical tool output and the figure is generation, not search.
Printed: policy tokens generated, seconds inside ``rollout_func``, tokens/s, and the ratio
vLLM / HF. Without CUDA it says so and exits 2: there is no CPU figure to compare.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

OBSERVATION = ("Result 1: The question's subject is described on this page with its dates, places and the people "
               "involved. Result 2: A second page lists related events.")
SYSTEM = ("You are a research agent. Think inside <think></think>, then either call a tool with "
          '<tool_call>{"name": "search", "arguments": {"query": ["..."]}}</tool_call> or answer with '
          "<answer>...</answer>.")


def _dataset(questions: Path, n: int, out: Path) -> Path:
    import datasets

    from train.benchmarks import load_benchmark

    records = load_benchmark(questions)[:n]
    rows = [{"prompt": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": r.question}],
             "question": r.question, "answer": r.answers[0], "aliases": list(r.answers[1:])} for r in records]
    datasets.Dataset.from_list(rows).save_to_disk(str(out))
    return out


def _run(generation: str, model: Path, data: Path, args: argparse.Namespace) -> dict[str, object]:
    from train.rl_rollout import RolloutConfig
    from train.rl_runner import RLSettings, run_rl

    settings = RLSettings(max_steps=args.steps, num_generations=args.generations, prompts_per_step=1,
                          reward="webdancer", device="cuda", generation=generation,  # type: ignore[arg-type]
                          rollout=RolloutConfig(max_turns=3, max_new_tokens=256, max_completion_tokens=1024))
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        report = run_rl(data, model, out, settings, tool=lambda name, arguments: OBSERVATION, tool_names=["search"])
        wall = time.perf_counter() - started
    return {"generation": report.generation, "steps": report.steps, "rollouts": report.rollouts,
            "policy_tokens": report.generated_tokens, "rollout_s": round(report.rollout_seconds, 2),
            "tokens_per_s": round(report.generated_tokens / report.rollout_seconds, 1) if report.rollout_seconds else None,
            "wall_s": round(wall, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--questions", type=Path, default=REPO.parent / "shared/qa/hotpotqa/dev_distractor_300.jsonl")
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("--generations", type=int, default=4)
    parser.add_argument("--steps", type=int, default=2)
    args = parser.parse_args()
    import torch

    if not torch.cuda.is_available():
        print("no CUDA device: the vLLM path cannot run here, nothing to compare", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        data = _dataset(args.questions, args.prompts * args.steps, Path(tmp) / "rl")
        rows = [_run("hf", args.model, data, args), _run("vllm", args.model, data, args)]
    hf, vllm = rows
    ratio = (vllm["tokens_per_s"] / hf["tokens_per_s"]) if hf["tokens_per_s"] and vllm["tokens_per_s"] else None  # type: ignore[operator]
    print(json.dumps({"device": torch.cuda.get_device_name(0), "rows": rows,
                      "vllm_over_hf_tokens_per_s": round(ratio, 2) if ratio else None}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
