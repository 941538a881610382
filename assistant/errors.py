"""The assistant's exceptions.

Library errors (chromadb, openai, onnxruntime, file I/O) are caught in the boundary module
that talks to that library and re-raised as one of these, so that only the CLI and the UI
decide how a failure reads to a person::

    AssistantError
     ├── ConfigError            a setting is missing or malformed
     ├── InputError             the user handed us something we cannot use
     │    └── ArticleError      one file (or one line of it) cannot be read as an article
     ├── StoreError             the vector store failed
     │    ├── StoreUnavailable  the Chroma server cannot be reached
     │    └── ModelMismatch     the collection was built with another embedding model
     ├── EmbeddingError         a local model (embedder, tagger, reader) cannot be loaded or run
     │    └── GraphNotKept      a model told to load only a kept graph finds none
     └── LLMError               the chat model endpoint failed
          ├── LLMAuthError      401/403: the key is wrong
          ├── LLMModelNotFound  404: no such model on that server
          ├── LLMRateLimited    429 after our retries
          └── LLMUnavailable    refused connection, timeout, 5xx after retries, cut stream
"""

from __future__ import annotations


class AssistantError(Exception):
    """Base of every error the assistant raises on purpose."""


class ConfigError(AssistantError):
    pass


class InputError(AssistantError):
    pass


class ArticleError(InputError):
    """A file that cannot become an article; ``path`` and ``reason`` go into the message."""

    def __init__(self, path: str, reason: str, line: int | None = None) -> None:
        self.path = path
        self.reason = reason
        self.line = line
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {reason}")


class StoreError(AssistantError):
    pass


class StoreUnavailable(StoreError):
    pass


class ModelMismatch(StoreError):
    pass


class EmbeddingError(AssistantError):
    pass


class GraphNotKept(EmbeddingError):
    """Raised instead of building a model's graph where the caller may not build it (a
    thread loading models beside the main thread's imports, ``surfaces/preload.py``)."""


class LLMError(AssistantError):
    pass


class LLMAuthError(LLMError):
    pass


class LLMModelNotFound(LLMError):
    pass


class LLMRateLimited(LLMError):
    pass


class LLMUnavailable(LLMError):
    pass
