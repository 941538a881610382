"""The OpenAI-compatible endpoint: chat through llama-index's ``OpenAILike`` and embeddings
through the official client. The only module that talks to openai.

Any model name on any OpenAI-compatible server works (OpenAI, Ollama, vLLM, llama.cpp).
Retries are ours, not the client's: llama-index wraps the openai client's own retries in a
second retry loop, which multiplies attempts and waits, so both are switched off and one
loop here retries 429, 5xx, timeouts and refused connections with exponential backoff
(honouring Retry-After). A stream is retried only until its first token arrives; a stream
cut after that raises ``LLMUnavailable`` rather than repeating text the user has seen.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from assistant.config import Settings
from assistant.errors import (
    ConfigError,
    EmbeddingError,
    LLMAuthError,
    LLMError,
    LLMModelNotFound,
    LLMRateLimited,
    LLMUnavailable,
)

if TYPE_CHECKING:
    from llama_index.llms.openai_like import OpenAILike

T = TypeVar("T")
Message = tuple[str, str]  # (role, content)


def translate(e: Exception, model: str, base_url: str | None) -> LLMError:
    """An openai exception as one of ours; the message never carries the key."""
    import openai

    where = base_url or "api.openai.com"
    if isinstance(e, LLMError):
        return e
    if isinstance(e, openai.AuthenticationError | openai.PermissionDeniedError):
        return LLMAuthError(f"the LLM endpoint {where} refused the API key (HTTP "
                            f"{e.status_code}); check OPENAI_API_KEY")
    if isinstance(e, openai.NotFoundError):
        return LLMModelNotFound(f"the LLM endpoint {where} has no model {model!r} (HTTP 404); "
                                "check ASSISTANT_LLM_MODEL")
    if isinstance(e, openai.RateLimitError):
        return LLMRateLimited(f"the LLM endpoint {where} is rate-limiting us (HTTP 429) "
                              "and kept doing so through our retries")
    if isinstance(e, openai.APITimeoutError):
        return LLMUnavailable(f"the LLM endpoint {where} did not answer in time")
    if isinstance(e, openai.APIConnectionError):
        return LLMUnavailable(f"cannot connect to the LLM endpoint {where}")
    if isinstance(e, openai.APIStatusError):
        return LLMUnavailable(f"the LLM endpoint {where} failed with HTTP {e.status_code}")
    if isinstance(e, openai.OpenAIError):
        return LLMUnavailable(f"the LLM endpoint {where} failed: {type(e).__name__}")
    return LLMUnavailable(f"the LLM endpoint {where} failed: {type(e).__name__}: {e}")


def _retryable(e: Exception) -> bool:
    import openai

    if isinstance(e, openai.RateLimitError | openai.APITimeoutError | openai.APIConnectionError
                  | openai.InternalServerError):
        return True
    return isinstance(e, openai.APIStatusError) and e.status_code >= 500


def _retry_after(e: Exception) -> float | None:
    response = getattr(e, "response", None)
    value = response.headers.get("retry-after") if response is not None else None
    try:
        return min(float(value), 30.0) if value else None
    except ValueError:
        return None


class ChatModel:
    """A chat model behind an OpenAI-compatible API. ``llm`` is a llama-index LLM."""

    def __init__(self, llm: OpenAILike, model: str, base_url: str | None, retries: int = 3,
                 backoff: float = 0.5, sleep: Callable[[float], None] = time.sleep) -> None:
        self.llm = llm
        self.model = model
        self.base_url = base_url
        self.retries = retries
        self.backoff = backoff
        self._sleep = sleep

    @classmethod
    def from_settings(cls, settings: Settings) -> ChatModel:
        from llama_index.llms.openai_like import OpenAILike

        if not (settings.openai_api_key or settings.openai_base_url):
            raise ConfigError("the openai answerer needs OPENAI_API_KEY or OPENAI_BASE_URL")
        llm = OpenAILike(
            model=settings.llm_model,
            api_base=settings.openai_base_url or "https://api.openai.com/v1",
            # Local servers (Ollama, llama.cpp) accept any key but the client insists on one.
            api_key=settings.openai_api_key or "not-needed",
            is_chat_model=True,
            is_function_calling_model=False,
            context_window=16_000,
            max_tokens=settings.llm_max_tokens,
            temperature=0.0,
            timeout=settings.llm_timeout,
            max_retries=0,
        )
        return cls(llm, settings.llm_model, settings.openai_base_url, settings.llm_retries)

    def _messages(self, messages: Sequence[Message]) -> list[Any]:
        from llama_index.core.llms import ChatMessage

        return [ChatMessage(role=role, content=content) for role, content in messages]

    def _with_retries(self, call: Callable[[], T]) -> T:
        attempt = 0
        while True:
            try:
                return call()
            except Exception as e:
                if attempt >= self.retries or not _retryable(e):
                    raise translate(e, self.model, self.base_url) from None
                wait = _retry_after(e)
                if wait is None:
                    wait = self.backoff * (2**attempt) * (1 + random.random() / 4)
                self._sleep(wait)
                attempt += 1

    def complete(self, messages: Sequence[Message]) -> str:
        msgs = self._messages(messages)
        response = self._with_retries(lambda: self.llm.chat(msgs))
        return str(response.message.content or "")

    def stream(self, messages: Sequence[Message]) -> Iterator[str]:
        """Text deltas as they arrive."""
        msgs = self._messages(messages)

        def first() -> tuple[Iterator[Any], str]:
            it = iter(self.llm.stream_chat(msgs))
            try:
                head = next(it)
            except StopIteration:
                return iter(()), ""
            return it, head.delta or ""

        rest, head = self._with_retries(first)
        if head:
            yield head
        where = self.base_url or "api.openai.com"
        finished = False
        try:
            for chunk in rest:
                finished = finished or _finish_reason(chunk.raw) is not None
                if chunk.delta:
                    yield chunk.delta
        except Exception as e:
            raise LLMUnavailable(f"the LLM endpoint {where} cut the answer off mid-stream "
                                 f"({type(e).__name__})") from None
        if not finished:
            raise LLMUnavailable(f"the LLM endpoint {where} ended the answer stream early")


def _finish_reason(raw: Any) -> str | None:
    choices = getattr(raw, "choices", None)
    if not choices:
        return None
    return getattr(choices[0], "finish_reason", None)


class OpenAIEmbedder:
    """Embeddings from an OpenAI-compatible ``/embeddings`` endpoint."""

    def __init__(self, model: str, api_key: str | None = None, base_url: str | None = None,
                 batch_size: int = 256) -> None:
        import openai

        if not (api_key or base_url):
            raise ConfigError("openai: embedding models need OPENAI_API_KEY or OPENAI_BASE_URL")
        self.name = f"openai:{model}"
        self.model = model
        self.base_url = base_url
        self.batch_size = batch_size
        self._client = openai.OpenAI(api_key=api_key or "not-needed", base_url=base_url,
                                     max_retries=3, timeout=60.0)
        self.dim = 0  # known after the first call

    def count_tokens(self, text: str) -> int:
        # No local tokenizer for remote models: about 4 characters per token.
        return max(1, len(text) // 4)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:  # nothing to ask the endpoint (and a shape it cannot infer)
            return np.zeros((0, self.dim or 0), dtype=np.float32)
        out: list[list[float]] = []
        for i in range(0, len(texts), self.batch_size):
            try:
                response = self._client.embeddings.create(
                    model=self.model, input=list(texts[i : i + self.batch_size]))
            except Exception as e:
                raise EmbeddingError(str(translate(e, self.model, self.base_url))) from None
            out.extend(d.embedding for d in sorted(response.data, key=lambda d: d.index))
        vectors = np.array(out, dtype=np.float32).reshape(len(out), -1)
        if len(vectors):
            self.dim = vectors.shape[1]
            vectors /= np.clip(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12, None)
        return vectors
