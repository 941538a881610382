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

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
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


def load_models(settings: Settings) -> Future[Models]:
    """Starts loading; the future's ``result()`` waits for the models, and raises the error a
    model's load raised (a damaged package, say) as the main thread would."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model-load")
    future = pool.submit(_load, settings)
    pool.shutdown(wait=False)  # the one task still runs; nothing else will be submitted
    return future


def _load(settings: Settings) -> Models:
    local = not settings.embed_model.startswith("openai:")
    return Models(
        embedder=_kept(lambda: make_embedder(settings, build=False)) if local else None,
        reader=_kept(lambda: ReadingModel.from_settings(settings, build=False)))


T = TypeVar("T")


def _kept(load: Callable[[], T]) -> T | None:
    try:
        return load()
    except GraphNotKept:
        return None
