"""Server mode: a real `chroma run` server on a free port, used through ASSISTANT_CHROMA_URL."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import JIJI, SEEDS, YOMIURI, wait_for_http
from .test_ui import free_port


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    chroma = Path(sys.executable).with_name("chroma")
    if not chroma.exists():
        chroma = Path(shutil.which("chroma") or "chroma")
    data = tmp_path_factory.mktemp("chroma-server")
    port = free_port()
    log = (data / "server.log").open("w")
    proc = subprocess.Popen([str(chroma), "run", "--path", str(data / "db"), "--host",
                             "127.0.0.1", "--port", str(port)], stdout=log,
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    wait_for_http(f"{url}/api/v2/heartbeat", proc, data / "server.log", timeout=60)
    yield url
    proc.terminate()
    proc.wait(timeout=20)


def run(args: list[str], url: str, side: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "ASSISTANT_CHROMA_URL": url, "ASSISTANT_INDEX_DIR": str(side),
           "HF_HUB_OFFLINE": "1", "ASSISTANT_COLLECTION": "news-server"}
    env.pop("OPENAI_API_KEY", None)
    env.pop("OPENAI_BASE_URL", None)
    proc = subprocess.run([sys.executable, "-m", "assistant", *args], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc


def test_ingest_articles_and_ask_against_a_chroma_server(chroma_url: str,
                                                         tmp_path: Path) -> None:
    side = tmp_path / "side"
    first = json.loads(run(["ingest", str(SEEDS), "--json"], chroma_url, side).stdout)
    assert first["added"] == 2 and first["chunks"] > 2
    again = json.loads(run(["ingest", str(SEEDS), "--json"], chroma_url, side).stdout)
    assert again["unchanged"] == 2
    listed = json.loads(run(["articles", "--json"], chroma_url, side).stdout)
    assert {a["id"] for a in listed} == {JIJI, YOMIURI}
    # A second machine with no side index of its own rebuilds BM25 from the server.
    answer = json.loads(run(["ask", "How long did the Takaichi-Starmer meeting last?",
                             "--json"], chroma_url, tmp_path / "other-side").stdout)
    assert "90 minutes" in answer["answer"]
    assert answer["citations"][0]["article_id"] == YOMIURI
    assert not (tmp_path / "other-side" / "chroma.sqlite3").exists()  # nothing embedded
