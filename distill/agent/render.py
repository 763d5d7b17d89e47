"""A trajectory as markdown, for a person reading asset metadata or a dataset card."""

from __future__ import annotations

from distill.agent.trajectory import Trajectory


def _clip(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _quote(text: str) -> str:
    return "\n".join("> " + line if line else ">" for line in text.splitlines()) or ">"


def trajectory_markdown(t: Trajectory, *, max_chars: int = 600) -> str:
    lines = [
        f"**Question** ({t.question_id}): {t.question}",
        f"**Reference**: {t.reference or '-'} · **style** {t.style} · **model** {t.model} · **seed** {t.seed} · "
        f"**finish** {t.finish_reason}",
        "",
    ]
    for s in t.steps:
        lines.append(f"**Step {s.index + 1}: {s.action}**" + (f" ({s.invalid_reason})" if s.invalid_reason else ""))
        if s.units:
            lines.append("Units: " + ", ".join(f"`{u.tag}`" for u in s.units))
        if s.think.strip():
            lines.append(_quote(_clip(s.think, max_chars)))
        if s.action == "answer":
            lines.append(f"Answer: **{_clip(s.answer, 200)}**")
        elif s.tool_call.strip():
            lines.append(f"`{_clip(s.tool_call, 300)}`")
        if s.observation:
            lines.append("Observation:")
            lines.append("```\n" + _clip(s.observation, max_chars).replace("```", "'''") + "\n```")
        lines.append("")
    lines.append(f"**Final answer**: {t.final_answer or '(none)'}")
    return "\n".join(lines)
