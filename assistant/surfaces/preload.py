"""The two ONNX models a question needs, the embedder and the reader, loaded on a thread while
the command imports llama-index, Chroma and spaCy.

ONNX Runtime sets a session up mostly outside Python's lock, so on two cores the loads hide
behind the imports instead of following them (docs/decisions.md, "A fresh ask").

Only graphs already kept in the cache folder load on the thread. Building one imports onnx,
and two threads importing packages they share can each find a module the other has only half
run; so a cold cache (a machine's first question, or a new version) leaves the building to
the main thread, after its imports, as without this module.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

# Imported here, in the main thread, so that the loading thread imports nothing of its own.
import numpy  # noqa: F401
import onnxruntime  # noqa: F401
import safetensors.numpy  # noqa: F401
import tokenizers  # noqa: F401

from assistant.answer.reading import ReadingModel
from assistant.config import Settings
from assistant.errors import GraphNotKept
from assistant.index.embedding import Embedder, make_embedder


@dataclass(frozen=True)
class Models:
    """What the thread loaded: a model whose graph was not kept (or that is not local) is
    None, and is built where it is first used."""

    embedder: Embedder | None
    reader: ReadingModel | None


class ModelLoad:
    """``ModelLoad.start(settings)`` begins; ``result()`` waits for the models, and raises
    the error a model's load raised (a damaged package, say) as the main thread would."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._models: Models | None = None
        self._error: Exception | None = None
        self._thread = threading.Thread(target=self._run, name="model-load", daemon=True)

    @classmethod
    def start(cls, settings: Settings) -> ModelLoad:
        load = cls(settings)
        load._thread.start()
        return load

    def _run(self) -> None:
        local = not self._settings.embed_model.startswith("openai:")
        try:
            embedder = _kept(lambda: make_embedder(self._settings, build=False)) if local else None
            reader = _kept(lambda: ReadingModel.from_settings(self._settings, build=False))
            self._models = Models(embedder=embedder, reader=reader)
        except Exception as e:  # raised again in the thread that asks for the models
            self._error = e

    def result(self) -> Models:
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._models is not None
        return self._models


T = TypeVar("T")


def _kept(load: Callable[[], T]) -> T | None:
    try:
        return load()
    except GraphNotKept:
        return None
