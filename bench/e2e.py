"""End-to-end: the demo job cold (empty data dir) and warm (the same dir again), in one run.

Prints wall time, LLM calls / requests sent / tokens per run (summed over the run's
materializations, from the Dagster instance), and the warm/cold ratios. Goal (#8): cold
< 10 minutes on 2 cores; warm < 5% of cold with 0 LLM requests.

    .venv/bin/python bench/e2e.py [--job full_job] [--config pipelines/configs/demo.yaml ...] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def run_job(job: str, configs: list[str], env: dict[str, str]) -> tuple[float, str]:
    args = [a for c in configs for a in ("-c", c)]
    started = time.perf_counter()
    proc = subprocess.run([str(Path(sys.executable).parent / "dagster"), "job", "execute", "-m", "pipelines.definitions",
                           "-j", job, *args], cwd=REPO, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise SystemExit(f"{job} failed (exit {proc.returncode})")
    return wall, proc.stdout + proc.stderr


def run_figures(home: Path) -> dict[str, Any]:
    """LLM figures and per-step seconds of the latest run in the instance at ``home``."""
    os.environ["DAGSTER_HOME"] = str(home)
    import dagster as dg

    instance = dg.DagsterInstance.get()
    run = instance.get_runs(limit=1)[0]
    totals = {"llm_calls": 0, "llm_requests": 0, "llm_tokens": 0}
    steps: dict[str, float] = {}
    for entry in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION):
        mat = entry.asset_materialization
        if mat is None:
            continue
        meta = {k: getattr(v, "value", v) for k, v in mat.metadata.items()}
        for key in totals:
            if isinstance(meta.get(key), int | float):
                totals[key] += int(meta[key])
        if isinstance(meta.get("seconds"), int | float):
            steps[mat.asset_key.to_user_string()] = float(meta["seconds"])
    return {"run_id": run.run_id, **totals, "step_seconds": steps}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--job", default="full_job")
    ap.add_argument("--config", action="append", default=None,
                    help="run config files (default: demo.yaml + demo_train.yaml)")
    ap.add_argument("--keep", default="", help="use (and keep) this directory instead of a temporary one")
    args = ap.parse_args()
    configs = args.config or ["pipelines/configs/demo.yaml", "pipelines/configs/demo_train.yaml"]
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="seekforge-e2e-"))
    if root.exists() and any(root.iterdir()) and args.keep:
        raise SystemExit(f"{root} is not empty: the cold run needs an empty directory")
    (root / "home").mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEEKFORGE_")}
    env.update({"SEEKFORGE_DATA_DIR": str(root / "data"), "DAGSTER_HOME": str(root / "home"), "HF_HUB_OFFLINE": "1"})
    try:
        cold_wall, _ = run_job(args.job, configs, env)
        cold = run_figures(root / "home")
        warm_wall, _ = run_job(args.job, configs, env)
        warm = run_figures(root / "home")
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    report = {
        "job": args.job, "configs": configs, "cores": os.cpu_count(),
        "cold_wall_s": round(cold_wall, 1), "warm_wall_s": round(warm_wall, 1),
        "warm_over_cold": round(warm_wall / cold_wall, 4),
        "cold": cold, "warm": warm,
    }
    print(json.dumps(report, indent=1))
    print(f"\ncold {cold_wall / 60:.1f} min ({cold['llm_requests']} LLM requests, {cold['llm_tokens']} tokens); "
          f"warm {warm_wall / 60:.1f} min ({warm['llm_requests']} requests); warm/cold = {warm_wall / cold_wall:.3f}")


if __name__ == "__main__":
    main()
