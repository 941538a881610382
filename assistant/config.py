"""One frozen ``Settings`` object, read once from the environment and command-line flags.

Every module receives the settings (or the parts it needs) as arguments; nothing reads
``os.environ`` after start-up. CONTRACT §2 names the variables; each has a CLI option.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, cast

from assistant.errors import ConfigError

DEFAULT_EMBED_MODEL = "all-MiniLM-L6-v2"

# Environment variable for each setting that can come from the environment.
_ENV = {
    "index_dir": "ASSISTANT_INDEX_DIR",
    "chroma_url": "ASSISTANT_CHROMA_URL",
    "collection": "ASSISTANT_COLLECTION",
    "openai_api_key": "OPENAI_API_KEY",
    "openai_base_url": "OPENAI_BASE_URL",
    "llm": "ASSISTANT_LLM",
    "llm_model": "ASSISTANT_LLM_MODEL",
    "embed_model": "ASSISTANT_EMBED_MODEL",
    "embed_threads": "ASSISTANT_EMBED_THREADS",
    "max_file_mb": "ASSISTANT_MAX_FILE_MB",
    "top_k": "ASSISTANT_TOP_K",
    "llm_timeout": "ASSISTANT_LLM_TIMEOUT",
    "llm_max_tokens": "ASSISTANT_LLM_MAX_TOKENS",
    "auth": "ASSISTANT_AUTH",
    "upload_dir": "ASSISTANT_UPLOAD_DIR",
    "cache_dir": "ASSISTANT_CACHE_DIR",
}


@dataclass(frozen=True)
class Settings:
    index_dir: Path = Path("index")
    chroma_url: str | None = None
    collection: str = "articles"
    openai_api_key: str | None = None
    openai_base_url: str | None = None
    llm: str | None = None  # "openai" | "extractive" | None (decided by `answer_mode`)
    llm_model: str = "gpt-4o-mini"
    embed_model: str = DEFAULT_EMBED_MODEL
    embed_threads: int = 0  # 0: let the runtime decide (measured: see README)
    embed_batch: int = 32
    chunk_tokens: int = 200  # measured: docs/tuning.md
    chunk_overlap_sentences: int = 0  # measured: docs/tuning.md
    max_file_mb: float = 5.0
    top_k: int = 5
    llm_timeout: float = 60.0
    llm_retries: int = 3
    # Five short cited sentences fit in 400 tokens; the cap bounds a model that rambles
    # (a small local one can repeat its prompt for minutes).
    llm_max_tokens: int = 400
    auth: str | None = None  # "user:password" for the web UI
    # Where the web app receives uploads (None: a folder of the system's temp directory);
    # the app reads files from here only, and deletes each once it is ingested or refused.
    upload_dir: Path | None = None
    # Built model graphs, kept for the next process of any store on this machine (they are
    # built from the installed weights: a start reads them instead of building them).
    cache_dir: Path = field(default_factory=lambda: default_cache_dir(os.environ))

    def __repr__(self) -> str:  # never print the key
        shown = {f.name: getattr(self, f.name) for f in fields(self)}
        if shown["openai_api_key"]:
            shown["openai_api_key"] = "***"
        if shown["auth"]:
            shown["auth"] = "***"
        return "Settings(" + ", ".join(f"{k}={v!r}" for k, v in shown.items()) + ")"

    @property
    def answer_mode(self) -> str:
        """Which answerer runs: the explicit choice, else openai when an endpoint is configured."""
        if self.llm:
            return self.llm
        return "openai" if (self.openai_api_key or self.openai_base_url) else "extractive"

    @property
    def answer_mode_reason(self) -> str:
        if self.llm:
            return f"ASSISTANT_LLM={self.llm}"
        if self.openai_api_key:
            return "OPENAI_API_KEY is set"
        if self.openai_base_url:
            return f"OPENAI_BASE_URL is set ({self.openai_base_url})"
        return "no OPENAI_API_KEY or OPENAI_BASE_URL: extractive answers"

    @property
    def store_label(self) -> str:
        where = self.chroma_url or str(self.index_dir)
        return f"{where} (collection {self.collection!r})"

    def with_(self, **changes: object) -> Settings:
        return replace(self, **cast(dict[str, Any], changes))

    @classmethod
    def load(
        cls, env: Mapping[str, str] | None = None, **flags: object
    ) -> Settings:
        """Environment first, then any flag that is not None overrides it."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        types = {f.name: f.type for f in fields(cls)}
        for name, var in _ENV.items():
            raw = env.get(var)
            if raw is not None and raw != "":
                values[name] = _convert(name, str(types[name]), raw, var)
        for name, value in flags.items():
            if value is not None:
                if name not in types:
                    raise ConfigError(f"unknown setting {name!r}")
                values[name] = value
        if "cache_dir" not in values:
            values["cache_dir"] = default_cache_dir(env)
        for name in ("index_dir", "upload_dir", "cache_dir"):
            if name in values:
                values[name] = Path(values[name])
        settings = cls(**values)
        if settings.llm not in (None, "openai", "extractive"):
            raise ConfigError(
                f"ASSISTANT_LLM must be 'openai' or 'extractive', not {settings.llm!r}"
            )
        if settings.top_k < 1:
            raise ConfigError(f"top-k must be at least 1, not {settings.top_k}")
        return settings


def _convert(name: str, type_name: str, raw: str, var: str) -> Any:
    try:
        if "int" in type_name and "str" not in type_name:
            return int(raw)
        if "float" in type_name:
            return float(raw)
    except ValueError as e:
        raise ConfigError(f"{var}={raw!r} is not a number") from e
    return raw


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address; "" is the default interface) is this
    machine only."""
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def default_cache_dir(env: Mapping[str, str]) -> Path:
    """The user's cache folder (XDG's), ``news-assistant`` in it."""
    base = env.get("XDG_CACHE_HOME") or str(Path(env.get("HOME") or Path.home()) / ".cache")
    return Path(base) / "news-assistant"
