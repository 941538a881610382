"""What a hostile or careless client can hand the app and its API (issue 36): only uploaded
files are read, one bad file never sinks a batch, a re-upload is an update, uploads are not
kept, the library is paged, and /v1 answers every request body with a 4xx at worst and
relays article text inert. The running app's HTTP side of these is in test_ui.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.answer.model import Answer, Citation
from assistant.config import Settings
from assistant.runtime import Runtime
from assistant.surfaces.api import MODEL_ID, build_api, content
from assistant.surfaces.web import App

from .conftest import ROOT, make_runtime

PARIS = ("date 2026-03-02 PARIS — Tourism in Paris rose last year. The city counted "
         "{n} million visitors in 2025, its tourism office said on Monday. — Example Wire\n")


def uploaded(root: Path, name: str, data: bytes | str) -> Path:
    """A file as Gradio's upload route leaves it: its own folder under the upload root."""
    folder = root / uuid.uuid4().hex
    folder.mkdir(parents=True)
    path = folder / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


@pytest.fixture()
def app(tmp_path: Path, embedder) -> App:  # type: ignore[no-untyped-def]
    runtime = make_runtime(Settings(index_dir=tmp_path / "index"), embedder)
    return App(runtime, (tmp_path / "uploads").resolve())


def test_only_uploaded_files_are_read_and_a_bad_one_never_sinks_the_batch(
        app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = app.uploads
    good = uploaded(root, "harbour.txt", "date 2026-03-02 DOVER — The harbour reopened on "
                    "Monday after repairs costing 12 million pounds. — Example Wire\n")
    latin = uploaded(root, "cafe.txt", "The Naïve café in Dover reopened on Tuesday after "
                     "the storm, its owner said.".encode("latin-1"))
    page = uploaded(root, "page.html", "<html><body><article><p>A page about the harbour "
                    "and its repairs, long enough to be an article.</p></article></body>"
                    "</html>")
    folder = root / "a-folder"
    folder.mkdir()
    outside = tmp_path / "secret.txt"
    outside.write_text("The vault code is 4711, said nobody in particular on Monday.")
    link = root / "linked" / "link.txt"
    link.parent.mkdir(parents=True)
    link.symlink_to(outside)
    # A parser's own failure (here: the HTML extractor cannot be imported, as when an
    # installer leaves out a package it needs) is that file's problem, not the batch's.
    monkeypatch.setitem(sys.modules, "trafilatura", None)
    log, problems, status, *_ = app.upload(
        [str(good), str(latin), str(page), str(folder), str(outside), str(link),
         "/etc/hostname"])
    assert log.startswith("2 added, 0 updated, 0 unchanged, 5 skipped")
    assert "skipped page.html: cannot be read: a package its parser needs is missing" in log
    assert "skipped a-folder: is a folder" in log
    assert "skipped secret.txt: is not an uploaded file" in log
    assert "skipped link.txt: is a link" in log
    assert "skipped hostname: is not an uploaded file" in log
    assert "note: cafe.txt: not valid UTF-8, read as cp1252" in log
    assert "Articles:** 2" in status
    titles = {r.title for r in app.runtime.store.articles()}
    assert not any("vault" in t for t in titles)
    assert any("Naïve café" in (app.runtime.store.article_text(r.id) or "")
               for r in app.runtime.store.articles())
    # Ingested or refused, nothing uploaded is kept; what lies outside is never touched.
    assert not [p for p in root.rglob("*") if p.is_file() or p.is_symlink()]
    assert outside.exists() and Path("/etc/hostname").exists()
    assert problems.count("skipped") == 5


def test_a_corrected_file_uploaded_again_updates_its_article(app: App) -> None:
    first, *_ = app.upload([str(uploaded(app.uploads, "paris_tourism.txt", PARIS.format(n=47)))])
    assert first.startswith("1 added")
    again, *_ = app.upload([str(uploaded(app.uploads, "paris_tourism.txt", PARIS.format(n=48)))])
    assert again.startswith("0 added, 1 updated")
    assert "updated paris_tourism: the new upload replaces the earlier version" in again
    assert [r.id for r in app.runtime.store.articles()] == ["paris_tourism"]
    answer = app.runtime.ask("How many million visitors did Paris count in 2025?")
    assert "48 million" in answer.answer and "47" not in answer.answer
    assert not answer.conflicts


def test_the_library_is_paged_and_searched_on_the_server(news_subset_runtime: Runtime,
                                                         tmp_path: Path) -> None:
    app = App(news_subset_runtime, tmp_path)
    every = app.library.records()
    assert len(every) > 40
    table, pick, page = app.browse("", 2)
    assert page == 2 and table.count("<tr>") == 21  # the header and twenty articles
    assert len(pick["choices"]) == 20 and f"21–40 of {len(every):,}" in table
    wanted = next(r for r in every[30:] if len(r.title.split()) > 3)
    words = " ".join(wanted.title.split()[:3]).upper()  # any case
    table, pick, page = app.browse(words, 1)
    assert wanted.id in [value for _, value in pick["choices"]]
    assert len(pick["choices"]) < 20 and "matching" in table
    table, pick, _ = app.browse("no-such-word-anywhere", 1)
    assert pick["choices"] == [] and "No article of the" in table
    assert app.browse("", 10_000)[2] == -(-len(every) // 20)  # past the end: the last page


def test_an_upload_of_many_bad_files_is_summarised(app: App) -> None:
    files = [str(uploaded(app.uploads, f"empty-{i:02}.txt", "")) for i in range(30)]
    log, problems, *_ = app.upload(files)
    assert log.startswith("0 added, 0 updated, 0 unchanged, 30 skipped")
    assert log.count("skipped empty-") == 10
    assert "… and 20 more: press “Every problem” to see them all" in log
    assert problems.count("skipped empty-") == 30


def test_the_cli_names_a_file_its_parser_fails_on_and_ingests_the_rest(tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text("The harbour in Dover reopened on Monday after the "
                                       "repairs, officials said.")
    (tmp_path / "page.html").write_text("<html><body><p>A page.</p></body></html>")
    script = ("import sys; sys.modules['trafilatura'] = None; "
              "from assistant.surfaces.cli import main; "
              f"sys.argv = ['assistant', 'ingest', {str(tmp_path)!r}]; main()")
    env = {**os.environ, "ASSISTANT_INDEX_DIR": str(tmp_path / "index"), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", script], env=env, cwd=ROOT, text=True,
                          capture_output=True, timeout=300)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert "page.html: cannot be read: a package its parser needs is missing" in done.stderr
    assert "1 added" in done.stdout


# ---------------------------------------------------------------- the /v1 API


HOSTILE_TITLE = ("<script>alert(1)</script> [Click me](javascript:alert(1)) "
                 "![pix](http://127.0.0.1:9/track.png)")


def test_article_text_in_the_reply_is_inert_in_markdown_and_html() -> None:
    from markdown_it import MarkdownIt

    quote = "The harbour <img src=x onerror=alert(2)> reopened [see](javascript:x) in March."
    citation = Citation(n=1, article_id="a", title=HOSTILE_TITLE, date="2026-03-02",
                        source="<b>Wire</b>", quote=quote, start=0, end=len(quote),
                        supported=True, support_score=0.9)
    answer = Answer(question="q", answer=f"{quote} [1]", abstained=False, mode="extractive",
                    citations=[citation])
    text = content(answer)
    for render in (MarkdownIt("commonmark", {"html": True}).render,
                   MarkdownIt("gfm-like", {"html": True, "linkify": False}).render):
        shown = render(text)
        assert "<a " not in shown and "<img" not in shown and "<script" not in shown
        assert "<b>" not in shown
    assert "[1]" in text and "Click me" in text  # the words stay, the markup does not act
    assert citation.to_json()["title"] == HOSTILE_TITLE  # the structured field is exact
    assert citation.to_json()["quote"] == quote


@pytest.fixture(scope="module")
def api(seeds_runtime: Runtime):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    with TestClient(build_api(seeds_runtime, None), raise_server_exceptions=False) as client:
        yield client


def _post(api, body: bytes):  # type: ignore[no-untyped-def]
    return api.post("/v1/chat/completions", content=body,
                    headers={"content-type": "application/json"})


def test_invalid_text_is_a_400_also_when_streaming(api) -> None:  # type: ignore[no-untyped-def]
    for stream in (False, True):
        for bad in ("cyber \\ud800 partnership", "cyber \\u0000 partnership"):
            # Written out: json.dumps cannot write the lone surrogate a client can send.
            body = ('{"model": ' + json.dumps(MODEL_ID) + ', "stream": ' + json.dumps(stream)
                    + ', "messages": [{"role": "user", "content": "' + bad + '"}]}').encode()
            reply = _post(api, body)
            assert reply.status_code == 400, reply.text
            assert reply.json()["error"]["code"] == "invalid_text"
    history = ('{"model": ' + json.dumps(MODEL_ID) + ', "messages": [{"role": "user", '
               '"content": "hi"}, {"role": "assistant", "content": "x \\udfff y"}, {"role": '
               '"user", "content": "and on cyber?"}]}').encode()
    assert _post(api, history).status_code == 400


def test_a_failure_while_streaming_ends_with_an_error_event_and_done(
        api, seeds_runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    def broken(*args: object, **kwargs: object) -> Answer:
        raise KeyError("answer")  # a bug of ours, injected

    monkeypatch.setattr(seeds_runtime, "ask", broken)
    body = json.dumps({"model": MODEL_ID, "stream": True,
                       "messages": [{"role": "user", "content": "cyber?"}]}).encode()
    reply = _post(api, body)
    events = [line[6:] for line in reply.text.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    assert json.loads(events[-2])["error"]["type"] == "server_error"
    assert _post(api, json.dumps({**json.loads(body), "stream": False}).encode()
                 ).json()["error"]["code"] == "internal_error"


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                  max_size=4),
    max_leaves=12)
_any_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=60)
_chat = st.fixed_dictionaries({
    "model": st.sampled_from([MODEL_ID, "gpt-4o", ""]) | _json,
    "stream": st.booleans() | _json,
    "messages": st.lists(st.fixed_dictionaries({
        "role": st.sampled_from(["user", "assistant", "system", "tool"]) | _json,
        "content": _any_text | _json}), max_size=4) | _json})


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=st.one_of(_chat.map(lambda b: json.dumps(b).encode()),
                      _json.map(lambda b: json.dumps(b).encode()),
                      st.binary(max_size=200),
                      _any_text.map(lambda t: t.encode("utf-8", "surrogatepass"))))
def test_no_request_body_gets_a_5xx(api, body: bytes) -> None:  # type: ignore[no-untyped-def]
    reply = _post(api, body)
    assert reply.status_code < 500, (body, reply.text)
    if reply.status_code >= 400:
        assert set(reply.json()["error"]) >= {"message", "type", "code"}


def test_seeds_stay_answerable_after_the_hostile_bodies(api) -> None:  # type: ignore[no-untyped-def]
    reply = _post(api, json.dumps({"model": MODEL_ID, "messages": [
        {"role": "user", "content": "How long did the Takaichi-Starmer meeting last?"}]}).encode())
    assert reply.status_code == 200 and "90 minutes" in reply.json()["answer"]["answer"]

