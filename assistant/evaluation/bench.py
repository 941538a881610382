"""``assistant bench``: ingestion and answer speed, measured in one run against references
measured in the same run (the raw model; the stock llama-index pipeline).

1. raw embedding throughput of the model on the corpus's own chunks (1 thread and the default);
2. end-to-end ingestion throughput (parse, chunk, embed, store) into a fresh store; 3. their
ratio; 4. retrieval and whole-answer latency p50/p95 at about 1k, 10k and 100k chunks;
5. peak memory; 6. the stock pipeline's ingestion (``VectorStoreIndex.from_documents`` over
Chroma with the same model); and the cold start of a new process to its first answer.

Embedding 100k real chunks would take hours here, so the larger stores are made of the
corpus's real chunks and real vectors, copied under new ids with the vectors lightly perturbed
(Gaussian noise of 0.01 per dimension, renormalised) and dates shifted a day per copy, so that
date filters select a realistic share. They are built once under the work folder and reused.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from assistant.config import Settings
from assistant.errors import ArticleError
from assistant.evaluation.figures import (
    BenchResult,
    LatencyFigures,
    OneArticle,
    Percentiles,
    ScaleRow,
    Serving,
)
from assistant.index.embedding import LocalEmbedder, llama_embedding
from assistant.index.filters import Filters
from assistant.index.records import ChunkRow, chunk_rows
from assistant.index.store import Store
from assistant.index.writer import stream_articles
from assistant.ingest.articles import Article
from assistant.ingest.chunking import Chunk, chunk_article
from assistant.ingest.report import IngestReport, discover
from assistant.runtime import Runtime


def _pct(values: Sequence[float]) -> Percentiles:
    return {"p50": round(float(np.percentile(values, 50)), 1),
            "p95": round(float(np.percentile(values, 95)), 1)}


def load_articles(paths: Sequence[str | Path], limit: int, max_bytes: int) -> list[Article]:
    report = IngestReport()
    articles: list[Article] = []
    for _, article in stream_articles(discover(paths, report), max_bytes, report):
        articles.append(article)
    if not articles:
        raise ArticleError(", ".join(map(str, paths)), "no articles to benchmark")
    return articles[:limit] if limit else articles


def warm_imports() -> None:
    """Import once what ingestion imports lazily (datasketch pulls in scipy: about a
    second). Like loading the model, that is a start-up cost, reported with the cold start,
    not a per-chunk cost of ingestion."""
    from assistant.ingest.articles import Article
    from assistant.ingest.copies import NearDuplicates

    NearDuplicates(lambda keys: []).check(Article(id="warm", text="warm up", title="warm"))


def raw_throughput(embedder: LocalEmbedder, texts: list[str]) -> float:
    embedder.embed(texts[:8])  # warm-up
    t = time.perf_counter()
    for i in range(0, len(texts), 128):  # the batch size ingestion hands the model
        embedder.embed(texts[i : i + 128])
    return len(texts) / (time.perf_counter() - t)


def stock_ingest(articles: list[Article], embedder: LocalEmbedder, folder: Path
                 ) -> tuple[float, int]:
    """Seconds and node count of ``VectorStoreIndex.from_documents`` into a fresh Chroma."""
    import chromadb
    from llama_index.core import Document, StorageContext, VectorStoreIndex
    from llama_index.vector_stores.chroma import ChromaVectorStore

    client = chromadb.PersistentClient(path=str(folder))
    collection = client.get_or_create_collection("stock", embedding_function=None)
    storage = StorageContext.from_defaults(vector_store=ChromaVectorStore(
        chroma_collection=collection))
    docs = [Document(text=a.text, metadata={"title": a.title, "date": a.date or ""})
            for a in articles]
    t = time.perf_counter()
    VectorStoreIndex.from_documents(docs, storage_context=storage,
                                    embed_model=llama_embedding(embedder))
    return time.perf_counter() - t, int(collection.count())


def build_scaled(base: Runtime, target: int, settings: Settings) -> Runtime:
    """A store of about ``target`` chunks made of copies of ``base``'s real chunks."""
    runtime = Runtime(settings=settings, store=Store.from_settings(settings),
                      embedder=base.embedder)
    have = runtime.store.chunk_count()
    if have >= target * 0.95:
        return runtime  # built by an earlier run
    rows = list(base.store.iter_vectors())
    by_article: dict[str, list[ChunkRow]] = {}
    for row in rows:
        by_article.setdefault(row[2]["article_id"], []).append(row)
    records = {r.id: r for r in base.store.articles()}
    texts = base.store.article_texts(list(by_article))
    rng = np.random.default_rng(7)
    copies = max(1, round(target / max(1, len(rows))))
    for k in range(copies):
        for aid, stored in by_article.items():
            rec = records[aid]
            day = date.fromisoformat(rec.date) if rec.date else date(2020, 1, 1)
            article = Article(id=f"{aid}~{k}", text=texts[aid], title=rec.title,
                              date=(day + timedelta(days=k)).isoformat(), source=rec.source,
                              url=rec.url)
            chunks = [Chunk(id=f"{article.id}::{m['index']}", article_id=article.id,
                            index=int(m["index"]), start=int(m["start"]), end=int(m["end"]),
                            text=text) for _, text, m, _ in stored]
            vectors = np.stack([v for *_, v in stored])
            vectors = vectors + rng.normal(0, 0.01, vectors.shape).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            runtime.store.add_rows(chunk_rows(article, chunks, vectors))
            # Written directly, not through ingest: these copies must not be collapsed as
            # syndicated duplicates, or the larger stores would answer from the small one.
            runtime.store.commit_article(article, len(chunks), None)
    return runtime


def latency(runtime: Runtime, base: Runtime, questions: list[str], filters: Filters
            ) -> LatencyFigures:
    """Retrieval at this store's size, and whole answers, each step timed on its own.

    A whole answer is: embed the question, read its scope (dates, outlets), retrieve from
    this store, answer extractively with an empty sentence cache. The larger stores are
    copies, so their hits share text that the cache would answer from memory; the
    extractive step is therefore timed on the hits of the real, distinct base store."""
    retriever = runtime.retriever
    retriever.refresh()
    base.retriever.refresh()
    k = runtime.settings.top_k
    for q in questions[:3]:  # warm-up: lazy imports, first-call costs
        runtime.ask(q, filters=filters)
    embed_ms, retrieve_ms, answer_ms = [], [], []
    for q in questions:
        t0 = time.perf_counter()
        qv = runtime.embedder.embed([q])[0]
        t1 = time.perf_counter()
        scope = runtime.scope(q, filters)
        window = runtime.days_about(scope, None)
        t2 = time.perf_counter()
        # As the app does: the store's state read once per question; who may be seen
        # comes from the side index's copy of the registry when no write is under way.
        generation, writing = runtime.store.state()
        retriever.retrieve(scope.topic, k, scope.filters, qv, favoured=window,
                           generation=generation, settled=not writing)
        t3 = time.perf_counter()
        hits = base.retriever.retrieve(q, k, None, qv)
        base.extractive.vectors.clear()
        t4 = time.perf_counter()
        base.extractive.answer(q, qv, hits)
        t5 = time.perf_counter()
        embed_ms.append((t1 - t0) * 1000)
        retrieve_ms.append((t1 - t0 + t3 - t2) * 1000)  # with the query embedding
        answer_ms.append((t3 - t0 + t5 - t4) * 1000)
    return {"embed_query_ms": _pct(embed_ms), "retrieve_ms": _pct(retrieve_ms),
            "answer_ms": _pct(answer_ms)}


def one_article(runtime: Runtime, article: Article, folder: Path) -> OneArticle:
    """Ingesting one new article into this store, as ``assistant ingest`` does it: wall time
    and the time spent outside embedding; the article is removed again afterwards."""
    path = folder / "one.jsonl"
    path.write_text(json.dumps({"id": article.id, "title": article.title, "date": article.date,
                                "source": article.source, "text": article.text}) + "\n")
    embedder = runtime.embedder
    spent = [0.0]
    embed = embedder.embed

    def timed(texts: Sequence[str]) -> np.ndarray:
        t = time.perf_counter()
        try:
            return embed(texts)
        finally:
            spent[0] += time.perf_counter() - t

    embedder.embed = timed  # type: ignore[method-assign]
    try:
        t = time.perf_counter()
        runtime.ingest([path])
        wall = time.perf_counter() - t
    finally:
        embedder.embed = embed  # type: ignore[method-assign]
    runtime.remove(article.id)
    return {"wall_s": round(wall, 3), "outside_embedding_s": round(wall - spent[0], 3)}


_SERVING = """
import json, sys, time
t = time.perf_counter()
from assistant.config import Settings
from assistant.runtime import Runtime
runtime = Runtime.open(Settings.load(index_dir=sys.argv[1], collection=sys.argv[2],
                                     llm="extractive"))
questions = json.loads(sys.argv[3])
behind = runtime.retriever.lexical.generation != runtime.store.generation()
runtime.ask(questions[0])
first = time.perf_counter() - t
for q in questions[1:]:
    runtime.ask(q)
status = open("/proc/self/status").read()
def kb(key): return int(status.split(key + ":")[1].split()[0]) / 1024
print(json.dumps({"first_answer_s": round(first, 2), "rss_mb": round(kb("VmRSS")),
                  "rss_anon_mb": round(kb("RssAnon")), "rss_file_mb": round(kb("RssFile")),
                  "peak_rss_mb": round(kb("VmHWM")),
                  "index_caught_up": behind}))
"""


def serving_process(settings: Settings, questions: list[str], runs: int = 3
                    ) -> Serving:
    """Fresh processes that open the store and answer questions, as the web app does:
    seconds to the first answer (``first_answer_s``, the median of ``runs`` processes: one
    start-up alone varied by seconds on this machine; each in ``first_answer_runs_s``), and
    of the last one its resident memory after answering (``rss_mb``), of which
    ``rss_file_mb`` are pages of memory-mapped files (the side index's database and vectors:
    the OS's file cache, given back under memory pressure) and ``rss_anon_mb`` the process's
    own, its peak (``peak_rss_mb``, the kernel's high-water mark of this process: getrusage
    would count the forking parent's pages), and whether it found its side index behind the
    store and caught up."""
    import os

    results: list[Serving] = []
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-c", _SERVING, str(settings.index_dir), settings.collection,
             json.dumps(questions)], capture_output=True, text=True, check=True, timeout=1200,
            env={**os.environ, "HF_HUB_OFFLINE": "1"})
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    firsts = [r["first_answer_s"] for r in results]
    return {**results[-1], "first_answer_s": round(float(np.median(firsts)), 2),
            "first_answer_runs_s": firsts}


def cold_start(settings: Settings, question: str) -> float:
    """Seconds from a new `assistant ask` process to its printed answer."""
    import os

    env = {**os.environ, "ASSISTANT_INDEX_DIR": str(settings.index_dir),
           "ASSISTANT_COLLECTION": settings.collection, "HF_HUB_OFFLINE": "1",
           "ASSISTANT_LLM": "extractive"}
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "assistant", "ask", question, "--json"], env=env,
                   check=True, capture_output=True, timeout=600)
    return time.perf_counter() - t


def run_bench(corpus: Sequence[str | Path], settings: Settings, work: Path, articles: int,
              sizes: Sequence[int], queries: int, log: Callable[[str], None]) -> BenchResult:
    work.mkdir(parents=True, exist_ok=True)
    docs = load_articles(corpus, articles, int(settings.max_file_mb * 1e6))
    embedder = LocalEmbedder(settings.embed_model, threads=settings.embed_threads)
    chunks = [c for a in docs for c in chunk_article(a, embedder.count_tokens,
                                                     settings.chunk_tokens,
                                                     settings.chunk_overlap_sentences)]
    texts = [c.text for c in chunks]
    log(f"{len(docs)} articles, {len(chunks)} chunks")
    one = LocalEmbedder(settings.embed_model, threads=1)
    raw_1 = raw_throughput(one, texts[: min(len(texts), 200)])
    del one
    raw = raw_throughput(embedder, texts)
    log(f"raw model: {raw:.1f} chunks/s (1 thread: {raw_1:.1f})")

    with tempfile.TemporaryDirectory(dir=work) as tmp:
        fresh = settings.with_(index_dir=Path(tmp) / "ours", collection="bench")
        runtime = Runtime(settings=fresh, store=Store.from_settings(fresh), embedder=embedder)
        warm_imports()
        t = time.perf_counter()
        report = runtime.ingest(corpus_file(docs, Path(tmp)))
        ours_s = time.perf_counter() - t
        ingest = report.chunks_written / ours_s
        # The raw figure again after ingestion: the mean of before and after cancels drift
        # (other load, clock changes) over the minutes between them.
        raw = (raw + raw_throughput(embedder, texts)) / 2
        log(f"our ingestion: {ingest:.1f} chunks/s ({ingest / raw:.2f} of raw {raw:.1f})")
        stock_s, stock_nodes = stock_ingest(docs, embedder, Path(tmp) / "stock")
        log(f"stock llama-index ingestion: {stock_nodes / stock_s:.1f} chunks/s "
            f"({len(docs) / stock_s:.2f} articles/s; ours {len(docs) / ours_s:.2f})")
        cold = cold_start(fresh, "What is this about?")
        log(f"cold start to first answer: {cold:.1f} s")

        rng = np.random.default_rng(3)
        sample = rng.choice(len(chunks), size=min(queries, len(chunks)), replace=False)
        questions = [" ".join(chunks[i].text.split()[:14]) + "?" for i in sample]
        scales: dict[str, ScaleRow] = {}
        for size in sizes:
            scaled = build_scaled(runtime, size, settings.with_(
                index_dir=work / f"scale-{size}", collection="bench"))
            n = scaled.store.chunk_count()
            dates = sorted(r.date or "" for r in scaled.store.articles())
            narrow = Filters(since=dates[len(dates) // 2], until=dates[len(dates) // 2])
            half = Filters(since=dates[len(dates) // 2])
            scaled.retriever.refresh()  # a store built by an earlier run: index it first
            row: ScaleRow = {
                   "chunks": n, "unfiltered": latency(scaled, runtime, questions, Filters()),
                   "filter_narrow": latency(scaled, runtime, questions, narrow),
                   "filter_half": latency(scaled, runtime, questions, half),
                   "ingest_one_article": one_article(scaled, _new_article(docs[0]), Path(tmp)),
                   "serving": serving_process(scaled.settings, questions[:10])}
            scales[str(size)] = row
            u = row["unfiltered"]
            log(f"{n} chunks: retrieve p50/p95 {u['retrieve_ms']['p50']}/"
                f"{u['retrieve_ms']['p95']} ms, answer {u['answer_ms']['p50']}/"
                f"{u['answer_ms']['p95']} ms")
    largest = scales[str(max(sizes))]["unfiltered"] if scales else None
    return {
        "chunks": len(chunks),
        "articles": len(docs),
        "raw_embed_chunks_per_s": round(raw, 2),
        "raw_embed_chunks_per_s_1_thread": round(raw_1, 2),
        "ingest_chunks_per_s": round(ingest, 2),
        "ratio": round(ingest / raw, 3),
        "stock_ingest_chunks_per_s": round(stock_nodes / stock_s, 2),
        "stock_chunks": stock_nodes,
        "ingest_articles_per_s": round(len(docs) / ours_s, 3),
        "stock_ingest_articles_per_s": round(len(docs) / stock_s, 3),
        "retrieve_ms": largest["retrieve_ms"] if largest else None,
        "answer_ms": largest["answer_ms"] if largest else None,
        "at_chunks": scales[str(max(sizes))]["chunks"] if scales else None,
        "scales": scales,
        "cold_start_s": round(cold, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "notes": ["stores above the corpus size are copies of its real chunks and vectors "
                  "under new ids (vectors perturbed by N(0, 0.01), dates shifted a day per "
                  "copy), built once and reused"],
    }


def _new_article(model: Article) -> Article:
    """An article no store holds yet, of a real article's length and kind."""
    return Article(id=f"bench-new-{time.time_ns()}", text=model.text + " (update)",
                   title=model.title + " (update)", date=model.date, source=model.source)


def corpus_file(docs: list[Article], folder: Path) -> list[Path]:
    """The benchmark's articles as one JSONL, so that ingestion parses them as a user's would."""
    path = folder / "corpus.jsonl"
    with path.open("w", encoding="utf-8") as out:
        for a in docs:
            out.write(json.dumps({"id": a.id, "title": a.title, "date": a.date,
                                  "source": a.source, "url": a.url, "text": a.text}) + "\n")
    return [path]


def table(result: BenchResult) -> str:
    lines = ["| measure | value |", "| --- | --- |",
             f"| corpus | {result['articles']} articles, {result['chunks']} chunks |",
             f"| raw model | {result['raw_embed_chunks_per_s']} chunks/s "
             f"(1 thread: {result['raw_embed_chunks_per_s_1_thread']}) |",
             f"| our ingestion | {result['ingest_chunks_per_s']} chunks/s, "
             f"{result['ingest_articles_per_s']} articles/s |",
             f"| ratio to raw | {result['ratio']} |",
             f"| stock llama-index ingestion | {result['stock_ingest_chunks_per_s']} chunks/s "
             f"({result['stock_chunks']} chunks of 1024 tokens), "
             f"{result['stock_ingest_articles_per_s']} articles/s |",
             f"| cold start to first answer | {result['cold_start_s']} s |",
             f"| peak RSS | {result['peak_rss_mb']} MB |"]
    for row in result["scales"].values():
        if "ingest_one_article" in row:
            one, serving = row["ingest_one_article"], row["serving"]
            lines.append(f"| {row['chunks']} chunks, one new article | {one['wall_s']} s "
                         f"({one['outside_embedding_s']} s outside embedding) |")
            runs = " / ".join(str(x) for x in serving.get("first_answer_runs_s", []))
            lines.append(f"| {row['chunks']} chunks, a serving process | first answer "
                         f"{serving['first_answer_s']} s ({runs}), RSS {serving['rss_mb']} MB "
                         f"({serving.get('rss_anon_mb')} MB own, {serving.get('rss_file_mb')} "
                         f"MB mapped files; peak {serving.get('peak_rss_mb')} MB) |")
        for name in ("unfiltered", "filter_narrow", "filter_half"):
            r = row[name]
            lines.append(f"| {row['chunks']} chunks, {name} | retrieve p50 "
                         f"{r['retrieve_ms']['p50']} / p95 {r['retrieve_ms']['p95']} ms; answer "
                         f"p50 {r['answer_ms']['p50']} / p95 {r['answer_ms']['p95']} ms |")
    return "\n".join(lines)

