"""Prompt files in ``prompts/``, rendered with named ``$variables`` that must all be given."""

from __future__ import annotations

import string
from functools import lru_cache
from pathlib import Path

from assistant.errors import ConfigError

PROMPTS_DIR = Path(__file__).resolve().parent.parent / "prompts"


@lru_cache(maxsize=32)
def _template(folder: Path, name: str) -> string.Template:
    path = folder / f"{name}.txt"
    try:
        return string.Template(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError(f"prompt file {path} cannot be read: {e.strerror}") from e


def render(name: str, folder: Path = PROMPTS_DIR, **variables: object) -> str:
    """The prompt ``name`` with every variable filled; a missing or unknown one is an error."""
    template = _template(folder, name)
    wanted = {m.group("named") or m.group("braced")
              for m in template.pattern.finditer(template.template)
              if m.group("named") or m.group("braced")}
    missing = wanted - variables.keys()
    extra = variables.keys() - wanted
    if missing or extra:
        raise ConfigError(
            f"prompt {name!r}: missing variables {sorted(missing)}, unknown {sorted(extra)}"
        )
    return template.substitute({k: str(v) for k, v in variables.items()})
