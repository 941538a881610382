"""The side index (SQLite FTS5 + memory-mapped vectors) follows the store by difference:
a write adds or removes only what changed, another process's write is seen at the next
question, and a kill -9 at any point leaves nothing a repair cannot bring back in line."""

from __future__ import annotations

import json
import math
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from assistant.config import Settings
from assistant.index.filters import Filters
from assistant.index.records import Hit
from assistant.index.side_index import SideIndex
from assistant.runtime import Runtime, lexical_folder

from .conftest import JIJI, ROOT, SEEDS, make_runtime, pg_subset

STORY = {"id": "harbour", "title": "Harbour reopens", "date": "2026-03-02",
         "source": "Coastal Herald",
         "text": "The harbour of Port Ellis reopened on Monday after repairs costing 12 million "
                 "pounds. Fishing boats returned to the quay within hours."}


def indexed_ids(runtime: Runtime) -> set[str]:
    return set(runtime.retriever.lexical.rows())


@pytest.fixture()
def runtime(tmp_path: Path, embedder) -> Runtime:
    rt = make_runtime(Settings(index_dir=tmp_path / "index"), embedder)
    rt.ingest([SEEDS])
    return rt


def test_a_write_adds_only_what_it_adds(runtime: Runtime, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    lexical = runtime.retriever.lexical
    assert indexed_ids(runtime) == runtime.store.chunk_ids()
    before = lexical.count()
    runtime.store.bump_generation()  # nothing changed but the tag: nothing to do
    assert lexical.sync(runtime.store) == (0, 0)

    # From here on, a write this process makes must not read the whole store (every chunk
    # id, every registry record): it costs what it adds.
    def whole(*_: object, **__: object) -> None:
        raise AssertionError("a write read the whole store")

    monkeypatch.setattr(runtime.store, "chunk_ids", whole)
    monkeypatch.setattr(runtime.store, "articles", whole)
    feed = tmp_path / "feed.jsonl"
    feed.write_text(json.dumps(STORY) + "\n")
    report = runtime.ingest([feed])
    assert report.added == 1
    assert lexical.count() == before + report.chunks_written
    hits = lexical.search("Port Ellis harbour repairs", 3)
    assert hits and hits[0].article_id == "harbour"
    assert hits[0].text in STORY["text"] or STORY["text"] in hits[0].text
    assert lexical.generation == runtime.store.generation()

    # An update with as many chunks as before: the old text leaves the index, the new is in.
    changed = {**STORY, "text": STORY["text"].replace("Fishing boats", "Ferries")}
    feed.write_text(json.dumps(changed) + "\n")
    assert runtime.ingest([feed]).updated == 1
    assert lexical.count() == before + report.chunks_written
    texts = [h.text for h in lexical.search("Port Ellis harbour quay", 5)
             if h.article_id == "harbour"]
    assert texts and all("Ferries" in t and "Fishing" not in t for t in texts)

    runtime.remove("harbour")
    assert lexical.count() == before
    assert not [h for h in lexical.search("Port Ellis harbour", 5) if h.article_id == "harbour"]
    monkeypatch.undo()
    assert indexed_ids(runtime) == runtime.store.chunk_ids()
    assert lexical.sync(runtime.store) == (0, 0)
    # The document frequencies kept by each write equal those counted afresh.
    kept, counted = lexical.term_counts()
    assert kept == counted
    assert lexical.count() == len(indexed_ids(runtime))


def test_filters_apply_to_both_rankings(runtime: Runtime, embedder) -> None:
    lexical = runtime.retriever.lexical
    only_jiji = Filters(sources=("jiji",))
    assert {h.source for h in lexical.search("cyber partnership", 10, only_jiji)} == \
        {"Jiji Press"}
    vector = embedder.embed(["cyber cooperation"])[0]
    # An outlet the store does not hold leaves nothing; naming every outlet narrows nothing.
    elsewhere = Filters(sources=("no such outlet",))
    assert lexical.search("cyber partnership", 10, elsewhere) == []
    assert lexical.dense(vector, 10, elsewhere) == []
    every = Filters(sources=tuple(lexical.sources()))
    assert len(every.sources) == 2
    assert lexical.search("cyber partnership", 10, every) == \
        lexical.search("cyber partnership", 10, Filters())
    assert lexical.dense(vector, 10, every) == lexical.dense(vector, 10, Filters())
    late = Filters(since="2026-02-01")
    dense = lexical.dense(vector, 10, late)
    assert dense and all(h.date and h.date >= "2026-02-01" for h in dense)
    scores = [h.score for h in dense]
    assert scores == sorted(scores, reverse=True)
    # The exact scan agrees with the store's own nearest neighbours when nothing is filtered.
    everything = lexical.dense(vector, 3, Filters(since="1900-01-01"))
    assert everything is not None
    assert [h.chunk_id for h in everything] == \
        [h.chunk_id for h in runtime.store.query(vector, 3)]


def test_a_question_reads_visibility_from_the_side_index(runtime: Runtime, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    """Which version of an article readers may see comes from the side index's copy of the
    registry, kept by each write: a question makes no registry request. While a write is
    under way, or after one was killed, the registry itself answers, until a write repairs
    the copy."""
    store, retriever = runtime.store, runtime.retriever
    question = "Port Ellis harbour repairs fishing boats"

    def ranked(settled: bool) -> list[str]:
        generation, writing = store.state()
        return [h.chunk_id for h in retriever.retrieve(
            question, 5, generation=generation, settled=settled and not writing)]

    feed = tmp_path / "feed.jsonl"
    feed.write_text(json.dumps(STORY) + "\n")
    runtime.ingest([feed])
    changed = {**STORY, "text": STORY["text"].replace("Fishing boats", "Ferries")}
    feed.write_text(json.dumps(changed) + "\n")
    runtime.ingest([feed])
    from_registry = ranked(settled=False)
    assert from_registry[0].startswith("harbour::")

    def no_registry(*_: object, **__: object) -> None:
        raise AssertionError("a settled question asked the registry")

    with monkeypatch.context() as patched:
        patched.setattr(store, "records", no_registry)
        assert ranked(settled=True) == from_registry
        hits = retriever.retrieve(question, 5, generation=store.generation(), settled=True)
        assert all("Fishing" not in h.text for h in hits if h.article_id == "harbour")

    # A removal killed between the registry and the generation: the mark of the write under
    # way sends questions to the registry, which no longer has the article.
    store.begin_write()
    store.delete_article("harbour")
    assert store.state()[1]
    assert not any(c.startswith("harbour::") for c in ranked(settled=True))
    # The next write finds the mark, and the copy is read again whole.
    other = {**STORY, "id": "quay", "title": "Quay opens", "text": "A new quay opened."}
    feed.write_text(json.dumps(other) + "\n")
    runtime.ingest([feed])
    assert not store.state()[1]
    copy = retriever.lexical.visibility(["harbour", "quay"], store.generation())
    assert copy is not None and "harbour" not in copy and "quay" in copy
    with monkeypatch.context() as patched:
        patched.setattr(store, "records", no_registry)
        assert not any(c.startswith("harbour::") for c in ranked(settled=True))


def test_a_date_filter_ranks_exactly_through_a_torn_write_and_a_removal(
        runtime: Runtime, embedder, tmp_path: Path) -> None:
    """The day column beside the vectors says which rows a date filter keeps; a crash that
    tore the last write, a removal and an index from before the column change nothing."""
    lexical = runtime.retriever.lexical
    vector = embedder.embed(["harbour repairs and fishing boats"])[0]
    since = Filters(since="2026-02-01")

    def expected() -> list[str]:
        ids = sorted(runtime.store.chunk_ids())
        rows = {cid: (vec, meta) for cid, _, meta, vec in runtime.store.chunks_by_id(ids)}
        inside = [c for c, (_, meta) in rows.items() if int(meta["date_int"]) >= 20260201]
        return sorted(inside, key=lambda c: -float(np.dot(rows[c][0], vector)))[:6]

    def ranked() -> list[str]:
        got = lexical.dense(vector, 6, since)
        assert got is not None
        return [h.chunk_id for h in got]

    assert ranked() == expected()
    with lexical.vector_file.open("ab") as f:  # a crash in the middle of a vector row
        f.write(b"\1" * 100)
    feed = tmp_path / "feed.jsonl"
    feed.write_text(json.dumps(STORY) + "\n")
    runtime.ingest([feed])
    assert len(lexical.days()) == len(lexical.vectors())
    assert ranked() == expected() and ranked()[0].startswith("harbour")
    runtime.remove("harbour")
    assert ranked() == expected() and not any(c.startswith("harbour") for c in ranked())
    lexical.day_file.unlink()  # an index written before the column was
    runtime.ingest([feed])
    assert len(lexical.days()) == len(lexical.vectors())
    assert ranked() == expected() and ranked()[0].startswith("harbour")


def test_the_dense_ranking_is_exact(runtime: Runtime, embedder,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Every chunk scored, not Chroma's approximate graph, whose misses differ between
    processes: the same question ranks the same way in the CLI, the app and the eval."""
    vector = embedder.embed(["What did the two leaders agree on cyber security?"])[0]
    ids = sorted(runtime.store.chunk_ids())
    stored = {cid: vec for cid, _, _, vec in runtime.store.chunks_by_id(ids)}
    best = sorted(ids, key=lambda c: -float(np.dot(stored[c], vector)))[:8]

    def approximate(*_: object, **__: object) -> None:
        raise AssertionError("the unfiltered dense ranking asked Chroma's HNSW")

    monkeypatch.setattr(runtime.store, "query", approximate)
    got = runtime.retriever.dense(vector, 8, Filters())
    assert [h.chunk_id for h in got] == best
    scores = [h.score for h in got]
    assert scores == sorted(scores, reverse=True)


def test_another_process_write_is_seen_at_the_next_question(runtime: Runtime,
                                                            tmp_path: Path) -> None:
    assert "harbour" not in {h.article_id for h in runtime.retriever.retrieve("Port Ellis", 5)}
    feed = tmp_path / "feed.jsonl"
    feed.write_text(json.dumps(STORY) + "\n")
    env = {"ASSISTANT_INDEX_DIR": str(runtime.settings.index_dir), "HF_HUB_OFFLINE": "1",
           "PATH": "/usr/bin:/bin"}
    subprocess.run([sys.executable, "-m", "assistant", "ingest", str(feed)], env=env,
                   check=True, capture_output=True, timeout=300, cwd=ROOT)
    answer = runtime.ask("When did the harbour of Port Ellis reopen?")
    assert any(c.article_id == "harbour" for c in answer.citations), answer.answer
    # An update by another process: this process read the old version's record for its
    # last question, and its next question must see the new version, not the old or none.
    changed = {**STORY, "text": STORY["text"].replace("on Monday", "on Thursday")}
    feed.write_text(json.dumps(changed) + "\n")
    subprocess.run([sys.executable, "-m", "assistant", "ingest", str(feed)], env=env,
                   check=True, capture_output=True, timeout=300, cwd=ROOT)
    answer = runtime.ask("When did the harbour of Port Ellis reopen?")
    quotes = [c.quote for c in answer.citations if c.article_id == "harbour"]
    assert quotes and all("Thursday" in q for q in quotes), answer.answer


_SYNC = """
import sys
from assistant.config import Settings
from assistant.runtime import Runtime
r = Runtime.open(Settings.load(index_dir=sys.argv[1]))
r.store.chunk_count()  # Chroma open: what follows "ready" is the sync alone
print("ready", flush=True)
r.retriever.refresh()
print("synced", flush=True)
"""


@pytest.mark.slow
def test_kill_9_during_a_sync_leaves_an_index_that_repairs(tmp_path: Path, embedder) -> None:
    index = tmp_path / "index"
    rt = make_runtime(Settings(index_dir=index), embedder)
    rt.ingest([SEEDS, pg_subset(tmp_path / "essays.jsonl", 25)])
    stored = rt.store.chunk_ids()
    folder = lexical_folder(rt.settings)
    interrupted = 0
    for delay in (0.0, 0.05, 0.1, 0.2, 0.4):
        # Start from an index that lacks everything, then kill the process building it.
        SideIndex(folder).clear()
        proc = subprocess.Popen([sys.executable, "-c", _SYNC, str(index)], cwd=ROOT,
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        interrupted += "synced" not in proc.stdout.read()
        fresh = SideIndex(folder)
        # Whatever the kill left, it is all or nothing, and the next sync completes it.
        assert fresh.count() in (0, len(stored))
        fresh.sync(rt.store)
        indexed = fresh.rows()
        assert set(indexed) == stored
        vectors = fresh.vectors()
        rows = np.array([row for row, _ in indexed.values()])
        assert rows.max() < len(vectors)
        days = fresh.days()
        assert len(days) == len(vectors)
        assert [int(days[row]) for row, _ in indexed.values()] == \
            [day for _, day in indexed.values()]
        assert fresh.search("startup founders", 3)
    assert interrupted, "no kill landed before the sync finished: nothing was tested"


def test_a_long_round_up_gives_way_to_the_report_a_question_is_about(
        runtime: Runtime, tmp_path: Path) -> None:
    """A round-up of dozens of chunks has that many chances to come near any question: in
    the dense ranking its chunks are discounted by the article's length past 40 chunks, so
    a report of ordinary length that scores about as well goes before it. Articles of
    ordinary length keep their order, and the round-up is still found for what only it
    says."""
    towns = ["Ashford", "Brill", "Cotton", "Dunmore", "Elkton", "Fairlee", "Garth", "Hollis"]
    items = []
    for i in range(260):
        town = f"{towns[i % len(towns)]} {i}"
        items.append(f"{town}: The county board met on Tuesday to discuss road repairs, "
                     f"school budgets and a new library wing, item {i} of the day. Residents "
                     f"asked for more buses, and the board said a vote on the plan for {town} "
                     "would come next month after a public hearing at the town hall.")
    items.append("Quillon Bay: A rare white heron nested on the lighthouse roof this spring, "
                  "wardens said.")
    round_up = {"id": "round-up", "title": "News from around our towns", "date": "2026-03-02",
                "source": "Coastal Herald", "text": "\n\n".join(items)}
    feed = tmp_path / "feed.jsonl"
    feed.write_text(json.dumps(round_up) + "\n" + json.dumps(STORY) + "\n")
    runtime.ingest([feed])
    retriever = runtime.retriever
    retriever.refresh()
    counts = retriever.lexical.chunk_counts(["round-up", "harbour", "missing"])
    assert counts["round-up"] > 2 * retriever.tuning.long_chunks and counts["harbour"] == 1
    assert "missing" not in counts

    def hit(article: str, score: float) -> Hit:
        return Hit(f"{article}::v::0", article, "text", 0, 4, score, "", None, None, None)

    t = retriever.tuning
    discount = t.long_discount * math.log(counts["round-up"] / t.long_chunks)
    close = [hit("round-up", 0.60 + discount / 2), hit("harbour", 0.60)]
    assert [h.article_id for h in retriever.discount_long(close)] == ["harbour", "round-up"]
    far = [hit("round-up", 0.60 + 2 * discount), hit("harbour", 0.60)]  # clearly better
    assert [h.article_id for h in retriever.discount_long(far)] == ["round-up", "harbour"]
    ordinary = [hit(JIJI, 0.61), hit("harbour", 0.60)]
    assert [h.article_id for h in retriever.discount_long(ordinary)] == [JIJI, "harbour"]
    # Discounted, not dropped: what only the round-up says is still found in it.
    hits = runtime.ask("Where did the rare white heron nest?", top_k=3).retrieved
    assert hits[0].article_id == "round-up" and "heron" in hits[0].text
