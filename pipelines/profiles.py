"""Profiles: which resources, which run config and which schedule state a deployment gets.

``SEEKFORGE_PROFILE`` picks one. The run config of a profile is its YAML files merged in
order (later files win), the same files a person passes to ``dagster job execute -c``; the
nightly schedule launches ``refresh_job`` with that config, so a scheduled run is exactly
a manual run of the same profile, never the class defaults.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Final, Literal, cast, get_args

import yaml

Profile = Literal["embedded", "production"]
PROFILES: Final[tuple[str, ...]] = get_args(Profile)
DEFAULT_PROFILE: Final[Profile] = "embedded"

CONFIG_DIR: Final = Path(__file__).resolve().parent / "configs"

#: The training recipe each profile runs (``pipelines/configs/recipes/<name>.yaml``): a resource
#: config, so the same file goes with refresh_job (dataset styles) and train_job (RL).
RECIPES: Final[dict[str, str]] = {
    "embedded": "recipes/atom_searcher.yaml",
    "production": "recipes/atom_searcher.yaml",
}
#: Run-config files of ``refresh_job`` per profile, merged in order.
REFRESH_CONFIGS: Final[dict[str, tuple[str, ...]]] = {
    "embedded": ("demo.yaml", RECIPES["embedded"]),
    "production": ("production.yaml", RECIPES["production"]),
}
#: Run-config files of ``train_job`` per profile: the recipe first, so the profile's file can
#: resize it (the demo's group of 2 instead of the paper's 16).
TRAIN_CONFIGS: Final[dict[str, tuple[str, ...]]] = {
    "embedded": (RECIPES["embedded"], "demo_train.yaml"),
    "production": (RECIPES["production"], "production_train.yaml"),
}


def active_profile(profile: str | None = None) -> Profile:
    """The profile asked for, else ``$SEEKFORGE_PROFILE``, else embedded; a typo is an error."""
    name = (profile or os.environ.get("SEEKFORGE_PROFILE") or DEFAULT_PROFILE).strip().lower()
    if name not in PROFILES:
        raise ValueError(f"SEEKFORGE_PROFILE={name!r} is not a profile; use one of {', '.join(PROFILES)}")
    return cast(Profile, name)


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for k, v in b.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def load_run_config(*names: str) -> dict[str, Any]:
    """The named files of ``pipelines/configs`` merged in order (later keys win, maps merge)."""
    merged: dict[str, Any] = {}
    for name in names:
        data = yaml.safe_load((CONFIG_DIR / name).read_text()) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{CONFIG_DIR / name} is not a run-config mapping")
        merged = _merge(merged, data)
    return merged


def refresh_run_config(profile: str | None = None) -> dict[str, Any]:
    """``refresh_job``'s run config for the profile (what the nightly schedule launches)."""
    return load_run_config(*REFRESH_CONFIGS[active_profile(profile)])


def train_run_config(profile: str | None = None) -> dict[str, Any]:
    return load_run_config(*TRAIN_CONFIGS[active_profile(profile)])
