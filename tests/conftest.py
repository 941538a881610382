"""Shared, real parts for the tests: the real embedding model (loaded once), real persistent
Chroma stores in temporary folders (built once per session), the real openai client against
an OpenAI-compatible server on 127.0.0.1."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from assistant.answer.reading import ReadingModel
from assistant.config import Settings
from assistant.index.embedding import LocalEmbedder
from assistant.index.store import Store
from assistant.runtime import Runtime

from .fake_openai import API_KEY, FakeOpenAI

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
# What the tests read lives in the repository (tests/data/*/README.md say where it came
# from), so that a clone runs its own tests without ../shared.
PG_ARTICLES = ROOT / "tests" / "data" / "pg_subset" / "articles.jsonl"
PG_FIXTURES = ROOT / "tests" / "data" / "pg_subset" / "fixtures_dev.jsonl"
SEED_FIXTURES = ROOT / "tests" / "data" / "seeds_dev.jsonl"  # copied from ../shared/fixtures
NEWS_SUBSET = ROOT / "tests" / "data" / "news_subset"  # the held-out weeks of news_dev: its README
JIJI = "000_ed6bfef44506447c"
YOMIURI = "001_e9dfe546c6db1840"
PG_SUBSET_SIZE = 60  # the essays the fixtures cite, plus others up to this many


def wait_for_http(url: str, proc: subprocess.Popen, log: Path | None = None,
                  timeout: float = 120) -> None:
    """Until ``url`` answers (any HTTP status counts); fails with the server's log if the
    process dies or the time runs out."""
    deadline = time.time() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError:
            return  # it answers, if only with a refusal: it is up
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                proc.kill()
                detail = log.read_text() if log and log.exists() else f"no answer from {url}"
                raise RuntimeError(detail) from None
            time.sleep(0.3)


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def pg_subset(path: Path, size: int = PG_SUBSET_SIZE) -> Path:
    """The essays the dev fixtures cite plus the first others (up to ``size``, at most the
    60 of tests/data/pg_subset), as a JSONL file."""
    cited = {s for f in read_jsonl(PG_FIXTURES) for s in f["sources"]}
    essays = read_jsonl(PG_ARTICLES)
    chosen = [e for e in essays if e["id"] in cited]
    chosen += [e for e in essays if e["id"] not in cited][: max(0, size - len(chosen))]
    path.write_text("".join(json.dumps(e) + "\n" for e in chosen))
    return path


@pytest.fixture(scope="session")
def embedder() -> LocalEmbedder:
    return LocalEmbedder()


@functools.cache
def reading_model() -> ReadingModel:
    """One reading model for the whole session (building its graph takes a few seconds)."""
    return ReadingModel()


def make_runtime(settings: Settings, embedder: LocalEmbedder) -> Runtime:
    return Runtime(settings, Store.from_settings(settings), embedder=embedder,
                   reader=reading_model())


@pytest.fixture(scope="session")
def seeds_runtime(tmp_path_factory: pytest.TempPathFactory, embedder: LocalEmbedder) -> Runtime:
    """The two seeds alone, in a persistent Chroma store."""
    settings = Settings(index_dir=tmp_path_factory.mktemp("seeds-index"))
    runtime = make_runtime(settings, embedder)
    runtime.ingest([SEEDS])
    return runtime


@pytest.fixture(scope="session")
def news_runtime(tmp_path_factory: pytest.TempPathFactory, embedder: LocalEmbedder) -> Runtime:
    """The seeds with Paul Graham essays as distractors (the dev fixtures' sources included)."""
    folder = tmp_path_factory.mktemp("news-index")
    settings = Settings(index_dir=folder / "index")
    runtime = make_runtime(settings, embedder)
    report = runtime.ingest([SEEDS, pg_subset(folder / "essays.jsonl")])
    assert not report.skipped
    return runtime


@pytest.fixture(scope="session")
def news_subset_runtime(tmp_path_factory: pytest.TempPathFactory,
                        embedder: LocalEmbedder) -> Runtime:
    """The held-out weeks of real news (tests/data/news_subset) beside the seeds."""
    settings = Settings(index_dir=tmp_path_factory.mktemp("news-subset-index"))
    runtime = make_runtime(settings, embedder)
    report = runtime.ingest([SEEDS, NEWS_SUBSET / "articles.jsonl"])
    assert not report.skipped
    return runtime


@pytest.fixture(scope="session")
def fake_openai() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture()
def openai_settings(fake_openai: FakeOpenAI) -> dict[str, object]:
    return {"openai_api_key": API_KEY, "openai_base_url": fake_openai.base_url,
            "llm_model": "reader", "llm_retries": 3}


@pytest.fixture(scope="session")
def local_llm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real model on 127.0.0.1: llama.cpp's OpenAI-compatible server with Gemma 3 270M
    (assistant/llm/local.py), for the whole session; yields its /v1 base URL."""
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        pytest.fail("llama-cpp-python is missing: ./dev test installs the llm group")
    from assistant.llm.local import GEMMA, running

    log = tmp_path_factory.mktemp("llm") / "server.log"
    with running(GEMMA, ROOT / ".tools" / "models", log=log) as base:
        yield base


@pytest.fixture(scope="session")
def real_llm_settings(local_llm: str) -> dict[str, object]:
    # A short cap keeps each answer to seconds on 2 cores; the checks hold at any length.
    return {"openai_base_url": local_llm, "openai_api_key": None, "llm": "openai",
            "llm_model": "gemma-3-270m", "llm_max_tokens": 160, "llm_retries": 1,
            "llm_timeout": 180.0}


CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is missing: run ./dev test, which installs it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        yield b
        b.close()


# Test tiers (`./dev test --quick` skips these three; `./dev test` and CI run everything).
# A test is marked by what it uses, so a new test lands in the right tier by itself.
_TIER_FIXTURES = {
    "browser": {"browser", "app_url"},  # headless Chromium and a served app
    "model": {"local_llm", "real_llm_settings"},  # a real language model on the CPU
    "slow": {"news_runtime", "news_subset_runtime"},  # stores of hundreds of articles
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        for marker, fixtures in _TIER_FIXTURES.items():
            if used & fixtures:
                item.add_marker(getattr(pytest.mark, marker))
