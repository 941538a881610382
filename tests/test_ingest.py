"""Ingestion: seed metadata, offsets, incremental counts, a real store reopened by new processes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.errors import ModelMismatch
from assistant.index.store import Store
from assistant.ingest.chunking import chunk_article, split_sentences
from assistant.ingest.files import parse_file
from assistant.runtime import Runtime

from .conftest import JIJI, SEEDS, YOMIURI, make_runtime

CLI = [sys.executable, "-m", "assistant"]


def run_cli(*args: str, index: Path, check_status: int | None = 0) -> subprocess.CompletedProcess:
    env = {**os.environ, "ASSISTANT_INDEX_DIR": str(index), "HF_HUB_OFFLINE": "1"}
    env.pop("OPENAI_API_KEY", None)
    env.pop("OPENAI_BASE_URL", None)
    proc = subprocess.run([*CLI, *args], capture_output=True, text=True, env=env, timeout=300)
    if check_status is not None:
        assert proc.returncode == check_status, proc.stderr
    return proc


def ask_in_a_fresh_process(index: Path, question: str, module: str
                           ) -> subprocess.CompletedProcess:
    """`assistant ask` in a new interpreter on this store (extractive); its output ends with
    whether the process imported ``module`` (``<module> loaded: True|False``)."""
    script = ("import sys\nfrom assistant.surfaces.cli import main\n"
              f"sys.argv = ['assistant', 'ask', {question!r}]\n"
              "try:\n    main()\nfinally:\n"
              f"    print('{module} loaded:', {module!r} in sys.modules)")
    env = {**os.environ, "ASSISTANT_INDEX_DIR": str(index), "HF_HUB_OFFLINE": "1",
           "ASSISTANT_LLM": "extractive"}
    return subprocess.run([sys.executable, "-c", script], env=env, text=True,
                          capture_output=True, timeout=300)


def test_seed_metadata_is_read_out_of_the_text() -> None:
    jiji = parse_file(SEEDS / f"{JIJI}.txt")[0]
    yomiuri = parse_file(SEEDS / f"{YOMIURI}.txt")[0]
    assert (jiji.id, jiji.date, jiji.source, jiji.dateline) == (
        JIJI, "2026-01-31", "Jiji Press", "Tokyo")
    assert (yomiuri.id, yomiuri.date, yomiuri.source, yomiuri.dateline) == (
        YOMIURI, "2026-02-02", "The Yomiuri Shimbun", "TOKYO")
    for article in (jiji, yomiuri):
        assert 10 < len(article.title) <= 91
        assert article.title.split()[0] in article.text
        # The stored text is a verbatim span of the file: metadata stays outside it.
        raw = (SEEDS / f"{article.id}.txt").read_text()
        assert article.text in raw
        assert not article.text.startswith(("date", "Tokyo,", "TOKYO"))
        assert "Copyright" not in article.text and "Yomiuri Shimbun/ANN" not in article.text
    assert jiji.text.startswith("Japanese Prime Minister Sanae Takaichi")
    assert jiji.text.endswith("accept the invitation.")


def test_chunk_offsets_map_back_to_the_text(embedder) -> None:
    for path in sorted(SEEDS.iterdir()):
        article = parse_file(path)[0]
        chunks = chunk_article(article, embedder.count_tokens, max_tokens=80, overlap=1)
        assert len(chunks) > 2
        for chunk in chunks:
            assert article.text[chunk.start : chunk.end] == chunk.text
            assert embedder.count_tokens(chunk.text) <= 80
        # Every sentence is whole inside some chunk.
        for s, e in split_sentences(article.text):
            assert any(c.start <= s and e <= c.end for c in chunks)


def test_sentences_survive_abbreviations() -> None:
    text = ("U.S. President Donald Trump met Mr. Smith on Jan. 31 in Washington. "
            "They agreed. 1. Pick good cofounders. The end!")
    sentences = [text[s:e] for s, e in split_sentences(text)]
    assert sentences[0] == "U.S. President Donald Trump met Mr. Smith on Jan. 31 in Washington."
    assert sentences[1] == "They agreed."
    assert sentences[-1] == "The end!"


@pytest.mark.parametrize(("text", "expected"), [
    # Common words that the old hand-written list took for abbreviations.
    ("We sat in the sun. Then we left.", ["We sat in the sun.", "Then we left."]),
    ("He said no. Then he left.", ["He said no.", "Then he left."]),
    ("They always sat. Nobody stood.", ["They always sat.", "Nobody stood."]),
    # A short number before the full stop is a score, not a list item.
    ("The final score was 3 to 2. Fans cheered.", ["The final score was 3 to 2.", "Fans cheered."]),
    # What must stay whole.
    ("It was the No. 1 pick. He was happy.", ["It was the No. 1 pick.", "He was happy."]),
    ("They met on Sat. and Sun. to talk. It ended.", ["They met on Sat. and Sun. to talk.",
                                                      "It ended."]),
    ('He said, "We will win." Then he left.', ['He said, "We will win."', "Then he left."]),
    ("Shares rose 3.5% to $12.40. Analysts were surprised.", ["Shares rose 3.5% to $12.40.",
                                                            "Analysts were surprised."]),
    # Text glued after a full stop: the bracket, quote or footnote mark closes the sentence.
    ("It was slick.)In September he left.", ["It was slick.)", "In September he left."]),
    ('"Do it in a box."By inverting it, we see.',
     ['"Do it in a box."', "By inverting it, we see."]),
    ("They deferred.[8] Founders are surprised.", ["They deferred.[8]", "Founders are surprised."]),
    ('Get ramen profitable."Ramen profitable" means',  # a glued quote that opens
     ["Get ramen profitable.", '"Ramen profitable" means']),
])
def test_sentence_ends_a_reader_would_agree_with(text: str, expected: list[str]) -> None:
    assert [text[s:e] for s, e in split_sentences(text)] == expected


def test_ingest_twice_is_a_no_op_and_a_new_process_reads_the_store(tmp_path: Path) -> None:
    index = tmp_path / "index"
    first = json.loads(run_cli("ingest", str(SEEDS), "--json", index=index).stdout)
    assert (first["added"], first["unchanged"], first["skipped"]) == (2, 0, [])
    assert first["chunks"] > 2
    assert set(first) == {"added", "updated", "unchanged", "removed", "skipped", "chunks",
                          "seconds"}
    second = json.loads(run_cli("ingest", str(SEEDS), "--json", index=index).stdout)
    assert (second["added"], second["unchanged"], second["chunks"]) == (0, 2, first["chunks"])
    listed = json.loads(run_cli("articles", "--json", index=index).stdout)
    by_id = {a["id"]: a for a in listed}
    assert by_id[JIJI]["date"] == "2026-01-31" and by_id[JIJI]["source"] == "Jiji Press"
    assert by_id[YOMIURI]["date"] == "2026-02-02"
    assert by_id[YOMIURI]["source"] == "The Yomiuri Shimbun"
    assert sum(a["chunks"] for a in listed) == first["chunks"]
    assert all(a["duplicate_of"] is None for a in listed)


def test_hits_carry_the_sentences_found_at_ingestion(seeds_runtime) -> None:
    """The sentence spans ingestion found travel with every hit, from Chroma and from the
    full-text side, so a question never loads the splitter again: a fresh `assistant ask`
    answers without NLTK (which pulls in SciPy, about a second of every process)."""
    r = seeds_runtime
    r.retriever.refresh()
    question = "What did Takaichi and Starmer agree on cyber?"
    dense = r.store.query(r.embedder.embed([question])[0], 4)
    lexical = r.retriever.lexical.search(question, 4)
    assert dense and lexical
    for hit in dense + lexical:
        assert hit.sentences and hit.sentences == tuple(split_sentences(hit.text))
    done = ask_in_a_fresh_process(r.settings.index_dir, question, "nltk")
    assert "Japan-UK Strategic Cyber Partnership" in done.stdout, done.stderr
    assert "nltk loaded: False" in done.stdout


def test_a_question_opens_chroma_only_when_the_store_may_have_changed(
        tmp_path: Path, embedder) -> None:
    """A fresh `assistant ask` after an ingest learns the store's generation from the state
    the writer kept, and answers from the side index without importing Chroma; a change
    made by another program, straight through Chroma, is not hidden by that kept state."""
    settings = Settings(index_dir=tmp_path / "index")
    make_runtime(settings, embedder).ingest([SEEDS])
    question = "What did Takaichi and Starmer agree on cyber?"
    done = ask_in_a_fresh_process(settings.index_dir, question, "chromadb")
    assert "Japan-UK Strategic Cyber Partnership" in done.stdout, done.stderr
    assert "chromadb loaded: False" in done.stdout
    foreign = Store.from_settings(settings)
    foreign.delete_article(JIJI)
    foreign.bump_generation()
    answer = Runtime.open(settings, embedder=embedder).ask(question)
    assert answer.citations
    assert {c.article_id for c in answer.citations} == {YOMIURI}


def test_changed_content_replaces_chunks_and_prune_removes(tmp_path: Path, embedder) -> None:
    folder = tmp_path / "articles"
    shutil.copytree(SEEDS, folder)
    runtime = make_runtime(Settings(index_dir=tmp_path / "index"), embedder)
    assert runtime.ingest([folder]).added == 2
    path = folder / f"{JIJI}.txt"
    path.write_text(path.read_text().replace("Chequers", "Chevening House"))
    report = runtime.ingest([folder])
    assert (report.updated, report.unchanged, report.added) == (1, 1, 0)
    texts = [t for _, t, m in runtime.store.iter_chunks() if m["article_id"] == JIJI]
    assert any("Chevening House" in t for t in texts)
    assert not any("Chequers" in t for t in texts)
    assert runtime.store.article_text(JIJI) is not None
    elsewhere = tmp_path / "elsewhere"  # an article from another folder, its file gone
    elsewhere.mkdir()
    (elsewhere / "story.md").write_text("# A story\n\nFrom another folder, kept by prune.\n")
    assert runtime.ingest([elsewhere]).added == 1
    (elsewhere / "story.md").unlink()
    (folder / f"{YOMIURI}.txt").unlink()
    kept = runtime.ingest([folder])
    assert kept.removed == 0  # without --prune nothing goes
    dry = runtime.ingest([folder], prune=True, dry_run=True)
    assert dry.removed == 1 and [p["id"] for p in dry.pruned] == [YOMIURI]
    assert len(runtime.store.articles()) == 3  # a dry run writes nothing
    pruned = runtime.ingest([folder], prune=True)
    assert pruned.removed == 1
    # Only what this run could have seen: the other folder's article stays.
    assert sorted(r.id for r in runtime.store.articles()) == sorted([JIJI, "story"])
    assert {m["article_id"] for _, _, m in runtime.store.iter_chunks()} == {JIJI, "story"}


def test_a_collection_refuses_a_second_embedding_model(tmp_path: Path, embedder) -> None:
    settings = Settings(index_dir=tmp_path)
    make_runtime(settings, embedder).ingest([SEEDS / f"{JIJI}.txt"])
    with pytest.raises(ModelMismatch, match="all-MiniLM-L6-v2"):
        Store.from_settings(settings, embed_model="openai:text-embedding-3-small").articles()
    # Nor does a question's kept store state stand in for the check.
    other = settings.with_(embed_model="openai:text-embedding-3-small")
    with pytest.raises(ModelMismatch, match="all-MiniLM-L6-v2"):
        Runtime.open(other, embedder=embedder).ask("What did Takaichi and Starmer agree on?")


def test_the_other_input_kinds(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text(
        "---\ntitle: Front matter title\ndate: 2026-03-04\nsource: Example News\n"
        "url: https://example.com/a\n---\n# Heading\n\nBody text of the article.\n")
    (tmp_path / "b.md").write_text("# Only a heading\n\nSecond body. More text.\n")
    (tmp_path / "c.json").write_text(json.dumps(
        {"id": "cid", "title": "T", "date": "March 5, 2026", "text": "Some text here."}))
    (tmp_path / "d.jsonl").write_text(
        json.dumps({"text": "First line article."}) + "\n\n"
        + json.dumps({"id": "x2", "text": "Second.", "source": "Wire"}) + "\n")
    (tmp_path / "e.html").write_text(
        "<html><head><title>Page title</title>"
        '<meta property="article:published_time" content="2026-04-01T10:00:00Z">'
        '<meta property="og:site_name" content="Example Times"></head><body><article>'
        "<h1>Page title</h1><p>" + "A paragraph of real news text about the harbour. " * 8
        + "</p><p>Another paragraph of the story, long enough to count as main text.</p>"
        "</article></body></html>")
    a = parse_file(tmp_path / "a.md")[0]
    assert (a.id, a.title, a.date, a.source, a.url) == (
        "a", "Front matter title", "2026-03-04", "Example News", "https://example.com/a")
    assert a.text == "Body text of the article."
    assert parse_file(tmp_path / "b.md")[0].title == "Only a heading"
    c = parse_file(tmp_path / "c.json")[0]
    assert (c.id, c.date) == ("cid", "2026-03-05")
    d = parse_file(tmp_path / "d.jsonl")
    assert d[0].id.startswith("text-") and d[0].id != "d-1"  # not its position in the file
    assert d[1].id == "x2" and d[1].source == "Wire"
    e = parse_file(tmp_path / "e.html")[0]
    assert e.title == "Page title" and e.date == "2026-04-01" and e.source == "Example Times"
    assert "harbour" in e.text


def test_bad_files_are_named_and_the_rest_is_ingested(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    shutil.copytree(SEEDS, folder)
    (folder / "empty.txt").write_text("")
    (folder / "binary.txt").write_bytes(b"\x00\x01\x02binary")
    (folder / "bad.jsonl").write_text('{"text": "A good line of the feed."}\n{not json\n'
                                      '{"title": "no text"}\n{"text": "Another good one."}\n'
                                      '{"text": "Misdated.", "date": "2026-13-01"}\n')
    (folder / "notext.json").write_text('{"title": "no text"}')
    proc = run_cli("ingest", str(folder), str(tmp_path / "missing.txt"), "--json",
                   index=tmp_path / "index", check_status=1)
    report = json.loads(proc.stdout)
    reasons = {Path(s["path"]).name: s["reason"] for s in report["skipped"]
               if Path(s["path"]).name != "bad.jsonl"}
    # The feed's two good lines are ingested; each bad one is named with its line.
    assert report["added"] == 4
    feed = [s["reason"] for s in report["skipped"] if Path(s["path"]).name == "bad.jsonl"]
    assert len(feed) == 3 and feed[0].startswith("line 2: invalid JSON")
    assert feed[1].startswith("line 3:") and "'text'" in feed[1]
    # An impossible day is refused, not read as 13 January.
    assert feed[2] == "line 5: field 'date': '2026-13-01' is not a day of the calendar (YYYY-MM-DD)"
    assert reasons["empty.txt"] == "file is empty"
    assert "binary" in reasons["binary.txt"]
    assert "'text'" in reasons["notext.json"]
    assert reasons["missing.txt"] == "no such file or directory"
    assert "Traceback" not in proc.stderr
    assert "empty.txt: file is empty" in proc.stderr


def test_a_feed_without_ids_never_replaces_yesterdays_articles(tmp_path: Path,
                                                              embedder) -> None:
    """Ids of a feed's articles come from what they are (url, else text), not from their line:
    tomorrow's feed.jsonl adds its stories beside today's, and a story seen again is
    unchanged."""
    runtime = make_runtime(Settings(index_dir=tmp_path / "index"), embedder)
    feed = tmp_path / "feed.jsonl"
    monday = [{"text": "The harbour reopened after repairs.", "url": "https://x.test/harbour"},
              {"text": "A rail strike was called off late on Wednesday."}]
    feed.write_text("".join(json.dumps(o) + "\n" for o in monday))
    assert runtime.ingest([feed]).added == 2
    tuesday = [{"text": "The city council approved a new budget."}, monday[1]]
    feed.write_text("".join(json.dumps(o) + "\n" for o in tuesday))
    report = runtime.ingest([feed])
    assert (report.added, report.updated, report.unchanged) == (1, 0, 1)
    texts = {runtime.store.article_text(r.id) for r in runtime.store.articles()}
    assert texts == {monday[0]["text"], monday[1]["text"], tuesday[0]["text"]}


def test_two_files_of_one_name_in_two_folders_are_two_articles(tmp_path: Path,
                                                              embedder) -> None:
    runtime = make_runtime(Settings(index_dir=tmp_path / "index"), embedder)
    for folder, text in [("monday", "The harbour reopened."), ("tuesday", "The strike ended.")]:
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "report.txt").write_text(text + " More of the story follows.\n")
    first = runtime.ingest([tmp_path / "monday"])
    second = runtime.ingest([tmp_path / "tuesday"])  # another day's report.txt
    assert (first.added, second.added, second.updated, second.skipped) == (1, 1, 0, [])
    both = runtime.ingest([tmp_path / "monday", tmp_path / "tuesday"])
    assert (both.unchanged, both.added, both.skipped) == (2, 0, [])
    texts = sorted(runtime.store.article_text(r.id) or "" for r in runtime.store.articles())
    assert [t.split()[1] for t in texts] == ["harbour", "strike"]


def test_encodings_are_detected_or_refused_and_crlf_is_read(tmp_path: Path) -> None:
    from assistant.errors import ArticleError

    japanese = ("東京、1月31日（時事通信）高市早苗首相は英国のスターマー首相と会談し、"
                "サイバー分野での協力で合意した。")
    (tmp_path / "sjis.txt").write_bytes(japanese.encode("shift_jis"))
    assert parse_file(tmp_path / "sjis.txt")[0].text == japanese  # not cp1252 mojibake
    (tmp_path / "noise.txt").write_bytes(bytes(range(128, 256)) * 3)
    with pytest.raises(ArticleError, match="encoding cannot be told"):
        parse_file(tmp_path / "noise.txt")
    # Latin-1 and Windows-1252 English is read as such: a statistical guess took these few
    # accented letters for cp1250 ("Naďve") or cp1125 ("cafщ").
    western = {"naive.txt": ("The Naïve café owner said the crème brûlée was déjà vu. "
                             "Business in Zürich was good, à la carte.", "latin-1"),
               "quotes.txt": ("He said “the harbour will reopen” — and it did, at 3 °C.",
                              "cp1252")}
    for name, (text, codec) in western.items():
        (tmp_path / name).write_bytes(text.encode(codec))
        article = parse_file(tmp_path / name)[0]
        assert (article.text, article.encoding) == (text, "cp1252")
    russian = "Премьер-министр Японии встретился с британским коллегой в Токио в пятницу."
    (tmp_path / "cp1251.txt").write_bytes(russian.encode("cp1251"))
    assert parse_file(tmp_path / "cp1251.txt")[0].text == russian
    # Stray bytes in English, or Latin-2 Polish that Windows-1252 would garble: refused, not
    # read as Big5 or "odby³o".
    for name, raw in [("stray.txt", b"The harbour reopened on Monday \xa4\xb6 after repairs "
                                    b"\xd7\xf7 costing money."),
                      ("polish.txt", "Spotkanie w Łodzi odbyło się w środę, powiedział "
                                     "rzecznik.".encode("cp1250"))]:
        (tmp_path / name).write_bytes(raw)
        with pytest.raises(ArticleError, match="encoding cannot be told"):
            parse_file(tmp_path / name)
    # Windows line ends: front matter, the heading and paragraph breaks are all seen.
    (tmp_path / "crlf.md").write_bytes(
        b"---\r\ntitle: Harbour reopens\r\ndate: 2026-03-02\r\nsource: Coastal Herald\r\n"
        b"---\r\nThe harbour reopened on Monday.\r\n\r\nBoats returned within hours.\r\n")
    md = parse_file(tmp_path / "crlf.md")[0]
    assert (md.title, md.date, md.source) == ("Harbour reopens", "2026-03-02", "Coastal Herald")
    assert md.text.startswith("The harbour") and "---" not in md.text
    (tmp_path / "crlf.txt").write_bytes(b"Harbour reopens\r\n\r\nThe harbour reopened on "
                                        b"Monday.\r\n\r\nBoats returned within hours.\r\n")
    txt = parse_file(tmp_path / "crlf.txt")[0]
    assert txt.title == "Harbour reopens" and txt.text.startswith("The harbour")
    assert [txt.text[s:e] for s, e in split_sentences(txt.text)] == [
        "The harbour reopened on Monday.", "Boats returned within hours."]


@pytest.mark.parametrize(("text", "dateline", "source", "lead"), [
    ("WASHINGTON (AP) — The Senate passed the bill.", "WASHINGTON", "AP", "The Senate"),
    ("PARIS (AFP) - French farmers blocked roads.", "PARIS", "AFP", "French farmers"),
    ("LONDON, March 3 (Reuters) - Britain's economy grew.", "LONDON", "Reuters", "Britain's"),
    ("TOKYO, March 3 (Kyodo) -- Japan's ruling party agreed.", "TOKYO", "Kyodo", "Japan's"),
    ("BEIJING, March 3 (Xinhua) -- China launched a satellite.", "BEIJING", "Xinhua",
     "China launched"),
    # Not wire copy: nothing is cut or taken as an outlet.
    ("NASA - the space agency - delayed the launch.", None, None, "NASA - the"),
    ("The council met. No decision was reached — March 3, officials said.", None, None,
     "The council"),
])
def test_agency_datelines_are_read_and_plain_text_is_left_whole(
        text: str, dateline: str | None, source: str | None, lead: str) -> None:
    from assistant.ingest.articles import parse_plain

    article = parse_plain(text, "story")
    assert (article.dateline, article.source) == (dateline, source)
    assert article.text.startswith(lead)
    if dateline is None:
        assert article.text == text  # the whole text, its closing words included
