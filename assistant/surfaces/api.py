"""An OpenAI-compatible chat API of our own, on the web app's port: ``GET /v1/models`` and
``POST /v1/chat/completions`` (streaming and not). The only module that talks to FastAPI.

Any OpenAI-compatible front end (the ``openai`` SDK, Open WebUI, LibreChat) can ask the
assistant. Decisions:

- One model, ``news-assistant``; its answerer (extractive or openai) is the server's setting.
- The reply's ``content`` is the answer with ``[n]`` markers, then a "Sources" list a chat
  front end can show as it is. The response also carries ``citations`` (the CONTRACT §3
  objects: exact quote, offsets, verdict) and ``answer`` (the whole ``assistant ask --json``
  object) as extra top-level fields; clients that do not know them ignore them.
- Earlier user and assistant turns are the follow-up history, as in the chat.
- Streaming sends checked text only: a sentence is never sent and then withdrawn, since an
  API client cannot un-show it. While the answer is written and checked, SSE comments keep
  the connection alive; then the answer arrives in a few content deltas.
- With a password set (``--auth user:password``), the API wants ``Authorization: Bearer
  <password>``; errors have OpenAI's shape (``{"error": {"message", "type", "code"}}``) and
  a 4xx status, never a traceback.
"""

from __future__ import annotations

import asyncio
import hmac
import itertools
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from assistant.answer.model import MARKER, Answer
from assistant.errors import AssistantError, InputError, LLMError
from assistant.runtime import Runtime

MODEL_ID = "news-assistant"
INTERNAL = ("something went wrong on the server's side; the question was not answered "
            "(the details are in the server's log)")
_log = logging.getLogger(__name__)
MAX_BODY_BYTES = 1_000_000
MAX_QUESTION_CHARS = 4_000
MAX_MESSAGES = 100
# JSON can spell what is not text: "\\ud800" decodes to a lone surrogate, which no UTF-8
# writer (the reply, the log, the tokenizer) can encode; a NUL ends strings in C libraries.
_INVALID_TEXT = re.compile("[\0\ud800-\udfff]")
# Article text relayed in ``content`` is shown by chat front ends that render Markdown and
# HTML: brackets (links, images, reference definitions) and angle brackets (tags,
# autolinks) are made literal there.
_ACTIVE = str.maketrans({"[": "\\[", "]": "\\]", "<": "&lt;", ">": "&gt;"})


class _Refused(Exception):
    def __init__(self, status: int, message: str, code: str, kind: str = "invalid_request_error"
                 ) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.kind = status, message, code, kind


def _error(status: int, message: str, code: str, kind: str = "invalid_request_error"
           ) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": kind, "param": None,
                                   "code": code}}, status_code=status)


def _text(content: Any, index: int) -> str:
    """A message's text: a string, or OpenAI's list of parts with text parts."""
    text: str | None = None
    if isinstance(content, str):
        text = content
    elif isinstance(content, list):
        parts = [p.get("text") for p in content
                 if isinstance(p, dict) and p.get("type") == "text"]
        if len(parts) == len(content) and all(isinstance(p, str) for p in parts):
            text = "\n".join(str(p) for p in parts)
    if text is None:
        raise _Refused(400, f"messages[{index}].content must be a string or a list of text "
                       "parts", "invalid_content")
    bad = _INVALID_TEXT.search(text)
    if bad:
        what = "a NUL character" if bad.group() == "\0" else \
            f"a lone surrogate (U+{ord(bad.group()):04X}), which is not text"
        raise _Refused(400, f"messages[{index}].content holds {what} at character "
                       f"{bad.start()}", "invalid_text")
    return text


def parse_request(body: object) -> tuple[str, list[tuple[str, str]], bool]:
    """(question, history pairs, stream) from a chat-completions body, or ``_Refused``."""
    if not isinstance(body, dict):
        raise _Refused(400, "the request body must be a JSON object", "invalid_body")
    model = body.get("model")
    if model != MODEL_ID:
        shown = ascii(model) if len(ascii(model)) <= 80 else ascii(model)[:77] + "..."
        raise _Refused(404, f"The model {shown} does not exist; this server has "
                       f"{MODEL_ID!r} (GET /v1/models)", "model_not_found")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _Refused(400, "messages must be a non-empty list", "invalid_messages")
    if len(messages) > MAX_MESSAGES:
        raise _Refused(400, f"at most {MAX_MESSAGES} messages, not {len(messages)}",
                       "too_many_messages")
    turns: list[tuple[str, str]] = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ("system", "user", "assistant",
                                                            "developer"):
            raise _Refused(400, f"messages[{i}] needs a role of system, user or assistant",
                           "invalid_role")
        if m["role"] in ("user", "assistant"):
            turns.append((m["role"], _text(m.get("content"), i)))
    if not turns or turns[-1][0] != "user":
        raise _Refused(400, "the last message must be the user's question", "no_question")
    question = turns[-1][1].strip()
    if not question:
        raise _Refused(400, "the question (the last user message) is empty", "empty_question")
    if len(question) > MAX_QUESTION_CHARS:
        raise _Refused(413, f"the question has {len(question):,} characters; at most "
                       f"{MAX_QUESTION_CHARS:,}", "question_too_long")
    history = [(q, a) for (r1, q), (r2, a) in itertools.pairwise(turns[:-1])
               if r1 == "user" and r2 == "assistant"]
    return question, history, bool(body.get("stream", False))


def inert(text: str) -> str:
    """Article text as it may appear in ``content``: on one line, with nothing a Markdown or
    HTML renderer would turn into a link, an image or a tag."""
    return " ".join(text.split()).translate(_ACTIVE)


def _inert_answer(answer: Answer) -> str:
    """The answer made inert except its own citation markers ``[n]``."""
    numbers = {c.n for c in answer.citations}
    out, last = [], 0
    for m in MARKER.finditer(answer.answer):
        if int(m.group(1)) in numbers:
            out += [answer.answer[last : m.start()].translate(_ACTIVE), m.group()]
            last = m.end()
    out.append(answer.answer[last:].translate(_ACTIVE))
    return "".join(out)


def content(answer: Answer) -> str:
    """The reply as a chat front end shows it: the answer, then its sources. Article text in
    it is inert (``inert``); the ``citations`` beside it keep every quote exactly."""
    lines = [_inert_answer(answer)]
    if answer.citations:
        lines += ["", "Sources:"]
        for c in answer.citations:
            where = ", ".join(x for x in (c.source, c.date) if x)
            lines.append(f"[{c.n}] {inert(c.title)}" + (f" ({inert(where)})" if where else "")
                         + f": “{inert(c.quote)}”")
    if answer.left_out:
        lines += ["", f"Not shown: {len(answer.left_out)} sentence(s) of the model's answer "
                  "that no quote supports."]
    return "\n".join(lines)


def build_api(runtime: Runtime, password: str | None) -> FastAPI:
    app = FastAPI(title="news assistant API", docs_url=None, redoc_url=None,
                  openapi_url=None)

    def authorised(request: Request) -> bool:
        if password is None:
            return True
        given = request.headers.get("authorization", "")
        scheme, _, key = given.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(key.strip().encode(),
                                                                  password.encode())

    def refused_auth() -> JSONResponse:
        return _error(401, "a password is set: send it as the API key "
                      "(Authorization: Bearer <password>)", "invalid_api_key",
                      "authentication_error")

    @app.get("/v1/models")
    async def models(request: Request) -> Response:
        if not authorised(request):
            return refused_auth()
        return JSONResponse({"object": "list", "data": [
            {"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "news-assistant"}]})

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Response:
        if not authorised(request):
            return refused_auth()
        size = request.headers.get("content-length")
        if size and size.isdigit() and int(size) > MAX_BODY_BYTES:
            return _error(413, f"the request has {int(size):,} bytes; at most "
                          f"{MAX_BODY_BYTES:,}", "request_too_large")
        raw = await request.body()
        if len(raw) > MAX_BODY_BYTES:
            return _error(413, f"the request has {len(raw):,} bytes; at most "
                          f"{MAX_BODY_BYTES:,}", "request_too_large")
        try:
            body = json.loads(raw)
            question, history, stream = parse_request(body)
        except json.JSONDecodeError as e:
            return _error(400, f"the request body is not valid JSON ({e.msg} at character "
                          f"{e.pos})", "invalid_json")
        except UnicodeDecodeError:
            return _error(400, "the request body is not UTF-8 text", "invalid_json")
        except RecursionError:
            return _error(400, "the request body nests too deeply", "invalid_json")
        except _Refused as e:
            return _error(e.status, e.message, e.code, e.kind)
        if stream:
            return StreamingResponse(_sse(runtime, question, history),
                                     media_type="text/event-stream")
        try:
            answer = await asyncio.to_thread(runtime.ask, question, None, None, history)
        except AssistantError as e:
            return _failure(e)
        except Exception:  # a bug of ours, in OpenAI's error shape rather than a bare 500
            _log.exception("answering %r failed", question)
            return _error(500, INTERNAL, "internal_error", "server_error")
        return JSONResponse(_completion(answer))

    return app


def _failure(e: AssistantError) -> JSONResponse:
    if isinstance(e, InputError):
        return _error(400, str(e), "invalid_request")
    status = 502 if isinstance(e, LLMError) else 503
    return _error(status, str(e), "upstream_error", "api_error")


def _completion(answer: Answer) -> dict[str, Any]:
    return {"id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "object": "chat.completion",
            "created": int(time.time()), "model": MODEL_ID,
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": content(answer)}}],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
            "citations": [c.to_json() for c in answer.citations],
            "answer": answer.to_json()}


def _chunk(ident: str, delta: dict[str, Any], finish: str | None = None,
           extra: dict[str, Any] | None = None) -> str:
    data = {"id": ident, "object": "chat.completion.chunk", "created": int(time.time()),
            "model": MODEL_ID,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **(extra or {})}
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"


async def _sse(runtime: Runtime, question: str, history: list[tuple[str, str]]
               ) -> AsyncIterator[str]:
    ident = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    yield _chunk(ident, {"role": "assistant", "content": ""})
    done = threading.Event()
    result: dict[str, Any] = {}

    def work() -> None:
        try:
            result["answer"] = runtime.ask(question, None, None, history)
        except AssistantError as e:
            result["error"] = _failure(e)
        except Exception:  # a bug of ours: the stream still ends with an error and [DONE]
            _log.exception("answering %r failed", question)
            result["error"] = _error(500, INTERNAL, "internal_error", "server_error")
        finally:
            done.set()

    threading.Thread(target=work, daemon=True).start()
    while not await asyncio.to_thread(done.wait, 5.0):
        yield ": checking the answer against the articles\n\n"
    if "error" in result:
        yield f"data: {bytes(result['error'].body).decode()}\n\n"
        yield "data: [DONE]\n\n"
        return
    answer: Answer = result["answer"]
    for piece in _pieces(content(answer)):
        yield _chunk(ident, {"content": piece})
    yield _chunk(ident, {}, "stop", {"citations": [c.to_json() for c in answer.citations],
                                     "answer": answer.to_json()})
    yield "data: [DONE]\n\n"


def _pieces(text: str, size: int = 80) -> Iterator[str]:
    for i in range(0, len(text), size):
        yield text[i : i + size]
