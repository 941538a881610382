"""The parts of a running assistant, built once from ``Settings`` and shared by CLI, UI, eval."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .config import Settings
from .embedding import Embedder, make_embedder
from .ingest import IngestReport, ingest
from .store import Store


@dataclass
class Runtime:
    settings: Settings
    store: Store
    _embedder: Embedder | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def open(cls, settings: Settings) -> Runtime:
        return cls(settings=settings, store=Store.from_settings(settings))

    @property
    def embedder(self) -> Embedder:
        # Loading the model takes about a second; commands that never embed never pay it.
        with self._lock:
            if self._embedder is None:
                s = self.settings
                self._embedder = make_embedder(
                    s.embed_model, threads=s.embed_threads, batch_size=s.embed_batch,
                    api_key=s.openai_api_key, base_url=s.openai_base_url,
                )
            return self._embedder

    def ingest(self, paths: Sequence[str | Path], prune: bool = False,
               progress: bool = False) -> IngestReport:
        return ingest(paths, self.store, self.embedder, self.settings, prune=prune,
                      progress=progress)
