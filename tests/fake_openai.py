"""An OpenAI-compatible HTTP server on 127.0.0.1 for the tests, speaking the real wire format.

The "model" is a small deterministic reader: it takes the numbered sources out of the prompt
and answers with the source sentences that share the most words with the question, each
followed by its ``[n]``. The model name picks a behaviour:

- ``reader``            the reader above (any unknown ``reader-*`` name too); asked to condense
                        a follow-up, it names the earlier question in the new one
- ``bogus-cite``        the reader, plus a citation of a source that does not exist
- ``abstainer``         always "The articles don't say."
- ``flaky-429``         429 (with Retry-After: 0) on the first two calls, then the reader
- ``flaky-500``         500 on the first call, then the reader
- ``cut-stream``        streams two chunks, then drops the connection
- ``slow``              sleeps 5 s before answering (for timeouts)
- anything else         404 model_not_found, as the real API does

A request whose bearer token is not ``API_KEY`` gets 401.
"""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

API_KEY = "sk-test-0123456789abcdef"
KNOWN = ("reader", "bogus-cite", "abstainer", "flaky-429", "flaky-500", "cut-stream", "slow")
_WORD = re.compile(r"[a-z0-9]+")
_STOP = {"what", "did", "and", "the", "on", "of", "a", "an", "to", "in", "is", "was", "how",
         "when", "which", "who", "why", "do", "does", "about", "with", "for", "their", "they"}


def _sources(prompt: str) -> list[tuple[int, str]]:
    return [(int(m.group(1)), m.group(2)) for m in re.finditer(
        r'<source n="(\d+)"[^>]*>\n(.*?)\n</source>', prompt, re.DOTALL)]


def read_answer(prompt: str) -> str:
    question = prompt.rsplit("Question:", 1)[-1].strip().lower()
    keys = {w for w in _WORD.findall(question) if w not in _STOP and len(w) > 2}
    scored = []
    for n, text in _sources(prompt):
        for sentence in re.split(r"(?<=[.!?])\s+", text):
            words = set(_WORD.findall(sentence.lower()))
            overlap = sum(1 for k in keys if any(w.startswith(k[:5]) for w in words))
            if overlap:
                scored.append((overlap, -n, sentence.strip(), n))
    if not scored:
        return "The articles don't say."
    scored.sort(reverse=True)
    best = scored[0][0]
    chosen, seen = [], set()
    for overlap, _, sentence, n in scored:
        if overlap < max(1, best - 1) or sentence in seen or len(chosen) == 3:
            continue
        seen.add(sentence)
        chosen.append(f"{sentence.rstrip('.')} [{n}].")
    return " ".join(chosen)


class _Handler(BaseHTTPRequestHandler):
    server: FakeOpenAI
    protocol_version = "HTTP/1.1"  # keep-alive and chunked streams, as the real API

    def log_message(self, *args: Any) -> None:  # keep test output clean
        pass

    def _json(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
              ) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str, code: str,
               headers: dict[str, str] | None = None) -> None:
        self._json(status, {"error": {"message": message, "type": "invalid_request_error",
                                      "param": None, "code": code}}, headers)

    def do_GET(self) -> None:
        if self.path.rstrip("/").endswith("/models"):
            self._json(200, {"object": "list", "data": [
                {"id": m, "object": "model", "created": 0, "owned_by": "test"} for m in KNOWN]})
        else:
            self._error(404, "not found", "not_found")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        self.server.requests.append({"path": self.path, "body": body,
                                     "auth": self.headers.get("Authorization", "")})
        if self.headers.get("Authorization") != f"Bearer {API_KEY}":
            self._error(401, "Incorrect API key provided.", "invalid_api_key")
            return
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._error(404, f"no route {self.path}", "not_found")
            return
        model = str(body.get("model", ""))
        calls = self.server.count(model)
        if model == "flaky-429" and calls <= 2:
            self._error(429, "Rate limit reached", "rate_limit_exceeded", {"Retry-After": "0"})
            return
        if model == "flaky-500" and calls <= 1:
            self._error(500, "The server had an error", "server_error")
            return
        if model == "slow":
            time.sleep(5)
        if not (model in KNOWN or model.startswith("reader")):
            self._error(404, f"The model `{model}` does not exist", "model_not_found")
            return
        prompt = "\n".join(str(m.get("content", "")) for m in body.get("messages", []))
        if prompt.startswith("Rewrite the reader's last message"):
            # The condensing prompt: name the earlier question's subject in the new one.
            last = prompt.rsplit("Last message:", 1)[-1].strip()
            first = re.search(r"Reader: (.*)", prompt)
            text = f"{last.rstrip('?')} (following up on: {first.group(1) if first else ''})"
        elif model == "abstainer":
            text = "The articles don't say."
        elif "reference answer" in prompt.lower() and "score" in prompt.lower():
            text = "4.0\nThe answer matches the reference."  # llama-index's correctness judge
        elif "YES" in prompt and "NO" in prompt and "context" in prompt.lower():
            text = judge_faithfulness(prompt)  # llama-index's faithfulness judge
        else:
            text = read_answer(prompt)
            if model == "bogus-cite":
                text += " Officials also praised the talks [9]."
        if body.get("stream"):
            self._stream(model, text)
        else:
            self._json(200, {
                "id": "chatcmpl-test", "object": "chat.completion", "created": int(time.time()),
                "model": model,
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": text}}],
                "usage": {"prompt_tokens": len(prompt) // 4, "completion_tokens": len(text) // 4,
                          "total_tokens": (len(prompt) + len(text)) // 4},
            })

    def _stream(self, model: str, text: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        pieces = re.findall(r"\S+\s*", text)

        def write(data: bytes) -> None:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

        def event(delta: dict[str, Any], finish: str | None = None) -> None:
            chunk = {"id": "chatcmpl-test", "object": "chat.completion.chunk",
                     "created": int(time.time()), "model": model,
                     "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
            write(f"data: {json.dumps(chunk)}\n\n".encode())

        event({"role": "assistant", "content": ""})
        for i, piece in enumerate(pieces):
            if model == "cut-stream" and i == 2:
                self.wfile.flush()
                self.connection.shutdown(2)  # the connection dies mid-answer
                return
            event({"content": piece})
            time.sleep(0.005)
        event({}, "stop")
        write(b"data: [DONE]\n\n")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


def judge_faithfulness(prompt: str) -> str:
    """What a careful judge says to llama-index's faithfulness prompt: YES when the
    information's content words are in the context, else NO (so the score can be 0)."""
    if "refine the existing answer" in prompt:
        return "YES" if "YES" in prompt.split("We have the opportunity")[0][-20:] else "NO"
    asked = prompt.rsplit("Information:", 1)[-1]
    info, _, context = asked.partition("Context:")
    wanted = {w for w in re.findall(r"[a-z]{4,}", info.lower())}
    have = set(re.findall(r"[a-z]{4,}", context.lower()))
    return "YES" if wanted and len(wanted & have) >= 0.8 * len(wanted) else "NO"


class FakeOpenAI(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.requests: list[dict[str, Any]] = []
        self._calls: dict[str, int] = {}
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    def count(self, model: str) -> int:
        with self._lock:
            self._calls[model] = self._calls.get(model, 0) + 1
            return self._calls[model]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()


if __name__ == "__main__":  # for trying the app by hand: python tests/fake_openai.py 8911
    import sys

    with FakeOpenAI(int(sys.argv[1]) if len(sys.argv) > 1 else 8911) as server:
        print(server.base_url, "key:", API_KEY, flush=True)
        while True:
            time.sleep(3600)
