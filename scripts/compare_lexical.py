"""SQLite FTS5 (``assistant/index/side_search.py``) against Tantivy, on the same chunks
(issue 13).

Both engines index the same chunks of every dev corpus (news_dev, essays, seeds) with the
same terms (``side_search.terms``: the tokenisation retrieval was tuned with), so what differs is
the engine: its ranking, its write cost and its query cost. Quality is the lexical ranking
alone, read as articles (first appearance in the top 30 chunks), on every dev question with
sources. Speed: indexing everything, adding one article (its chunks and a commit) to the
full index, and a query. Needs Tantivy, which the project does not depend on:

    .tools/bin/uv run --frozen --with tantivy==0.27.0 python scripts/compare_lexical.py
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared"

from assistant.config import Settings  # noqa: E402
from assistant.index.embedding import LocalEmbedder  # noqa: E402
from assistant.index.records import ChunkRow, chunk_meta  # noqa: E402
from assistant.index.side_index import SideIndex  # noqa: E402
from assistant.index.side_search import terms  # noqa: E402
from assistant.ingest.chunking import chunk_article  # noqa: E402
from assistant.ingest.files import read_articles  # noqa: E402

CORPORA = [SHARED / "corpora/news_dev/articles.jsonl", SHARED / "corpora/pg_essays/articles.jsonl",
           ROOT / "seeds"]
FIXTURES = {"news": SHARED / "corpora/news_dev/fixtures.jsonl",
            "essays": SHARED / "corpora/pg_essays/fixtures_dev.jsonl",
            "seeds": ROOT / "tests/data/seeds_dev.jsonl"}
POOL = 30


class Rows:
    """The chunks as ``SideIndex.sync`` asks a store for them (vectors left out: one 0)."""

    def __init__(self, rows: dict[str, tuple[str, str, dict[str, Any]]], generation: str):
        self.rows, self.gen = rows, generation

    def generation(self) -> str:
        return self.gen

    def chunk_ids(self) -> set[str]:
        return set(self.rows)

    def articles(self) -> list[Any]:
        return []  # no registry: nothing is visible through the copy, which is not read here

    def chunks_by_id(self, ids: Sequence[str]) -> Iterator[ChunkRow]:
        for cid in ids:
            _, text, meta = self.rows[cid]
            yield cid, text, meta, np.zeros(1, dtype=np.float32)


def heading_terms(text: str, meta: dict[str, Any]) -> str:
    return " ".join(terms(f"title: {meta['title']}\nsource: {meta['source']}\n\n{text}"))


def articles_ranked(chunk_articles: list[str]) -> list[str]:
    return list(dict.fromkeys(chunk_articles))


def score(ranked: dict[str, list[str]], fixtures: list[dict[str, Any]]) -> dict[str, float]:
    hit1 = hit5 = rr = 0.0
    for f in fixtures:
        order = ranked[f["id"]]
        rank = next((i for i, a in enumerate(order) if a in f["sources"]), None)
        hit1 += rank == 0
        hit5 += rank is not None and rank < 5
        rr += 1 / (rank + 1) if rank is not None else 0.0
    n = max(1, len(fixtures))
    return {"hit@1": round(hit1 / n, 3), "hit@5": round(hit5 / n, 3), "mrr": round(rr / n, 3)}


def pct(values: list[float]) -> dict[str, float]:
    values = sorted(values)
    return {"p50": round(statistics.median(values), 2),
            "p95": round(values[int(0.95 * (len(values) - 1))], 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    import tantivy

    settings = Settings.load()
    counter = LocalEmbedder(settings.embed_model, threads=1)
    rows: dict[str, tuple[str, str, dict[str, Any]]] = {}
    for corpus in CORPORA:
        files = sorted(corpus.glob("*.txt")) if corpus.is_dir() else [corpus]
        for path in files:
            for article in read_articles(path, 50_000_000):
                for c in chunk_article(article, counter.count_tokens, settings.chunk_tokens,
                                       settings.chunk_overlap_sentences):
                    rows[c.id] = (article.id, c.text, chunk_meta(article, c))
    print(f"{len(rows)} chunks", file=sys.stderr)
    fixtures = {name: [f for f in map(json.loads, path.read_text().splitlines())
                       if f.get("sources") and f.get("answerable", True)]
                for name, path in FIXTURES.items()}
    questions = [f for fs in fixtures.values() for f in fs]
    extra = list(rows.items())[:12]  # one "new article": a dozen chunks under new ids
    out: dict[str, Any] = {"chunks": len(rows)}

    with tempfile.TemporaryDirectory() as tmp:
        fts = SideIndex(Path(tmp) / "fts")
        t = time.perf_counter()
        fts.sync(Rows(rows, "all"))
        build = time.perf_counter() - t
        adds = []
        source = Rows(rows, "all")
        for k in range(10):  # the write path: ``follow`` applies just the new chunks
            new = [(f"{cid}~{k}", text, meta, np.zeros(1, dtype=np.float32))
                   for cid, (_, text, meta) in extra]
            t = time.perf_counter()
            fts.follow(source, new, [], "all", f"more-{k}")
            adds.append((time.perf_counter() - t) * 1000)
            fts.follow(source, [], [cid for cid, *_ in new], f"more-{k}", "all")
        lat, ranked = [], {}
        for f in questions:
            t = time.perf_counter()
            hits = fts.search(f["question"], POOL)
            lat.append((time.perf_counter() - t) * 1000)
            ranked[f["id"]] = articles_ranked([h.article_id for h in hits])
        out["fts5"] = {"build_s": round(build, 1), "add_article_ms": pct(adds),
                       "query_ms": pct(lat),
                       **{name: score(ranked, fs) for name, fs in fixtures.items()}}
        print("fts5", out["fts5"], file=sys.stderr)

        builder = tantivy.SchemaBuilder()
        builder.add_text_field("chunk_id", stored=True, tokenizer_name="raw")
        builder.add_text_field("article_id", stored=True, tokenizer_name="raw")
        builder.add_text_field("terms", stored=False, tokenizer_name="whitespace")
        schema = builder.build()
        (Path(tmp) / "tantivy").mkdir()
        index = tantivy.Index(schema, path=str(Path(tmp) / "tantivy"))
        writer = index.writer(heap_size=200_000_000, num_threads=1)
        t = time.perf_counter()
        for cid, (aid, text, meta) in rows.items():
            writer.add_document(tantivy.Document(chunk_id=cid, article_id=aid,
                                                 terms=heading_terms(text, meta)))
        writer.commit()
        writer.wait_merging_threads()
        build = time.perf_counter() - t
        writer = index.writer(heap_size=50_000_000, num_threads=1)
        adds = []
        for k in range(10):
            t = time.perf_counter()
            for cid, (aid, text, meta) in extra:
                writer.add_document(tantivy.Document(chunk_id=f"{cid}~{k}", article_id=aid,
                                                     terms=heading_terms(text, meta)))
            writer.commit()
            adds.append((time.perf_counter() - t) * 1000)
            for cid, _ in extra:
                writer.delete_documents_by_term("chunk_id", f"{cid}~{k}")
            writer.commit()
        index.reload()
        searcher = index.searcher()
        lat, ranked = [], {}
        for f in questions:
            t = time.perf_counter()
            wanted = list(dict.fromkeys(terms(f["question"])))
            query = tantivy.Query.boolean_query(
                [(tantivy.Occur.Should, tantivy.Query.term_query(schema, "terms", w))
                 for w in wanted])
            found = searcher.search(query, POOL).hits
            aids = [searcher.doc(addr)["article_id"][0] for _, addr in found]
            lat.append((time.perf_counter() - t) * 1000)
            ranked[f["id"]] = articles_ranked(aids)
        out["tantivy"] = {"build_s": round(build, 1), "add_article_ms": pct(adds),
                          "query_ms": pct(lat),
                          **{name: score(ranked, fs) for name, fs in fixtures.items()}}
        print("tantivy", out["tantivy"], file=sys.stderr)
    print(json.dumps(out, indent=2))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
