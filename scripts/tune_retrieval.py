"""Retrieval tuning rows for docs/tuning.md: chunk size x overlap x fusion, on the dev fixtures.

    .venv/bin/python scripts/tune_retrieval.py [--essays 60] [--sizes 128,200,256] [--overlaps 0,1]

Builds one store per (chunk size, overlap) over the seeds plus a subset of the essays (the
ones the fixtures cite plus others), then scores retrieval alone (k chunks, articles ranked by
first appearance) with dense only, BM25 only and fused rankings.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.config import Settings  # noqa: E402
from assistant.index.embedding import LocalEmbedder  # noqa: E402
from assistant.index.filters import Filters  # noqa: E402
from assistant.index.records import Hit  # noqa: E402
from assistant.index.store import Store  # noqa: E402
from assistant.retrieval.hybrid import RRF_K  # noqa: E402
from assistant.runtime import Runtime  # noqa: E402
from tests.conftest import PG_FIXTURES, SEED_FIXTURES, SEEDS, pg_subset, read_jsonl  # noqa: E402


def fuse(ranked_lists: Sequence[tuple[list[Hit], float]], k: int) -> list[Hit]:
    """Weighted reciprocal-rank fusion; the fused score replaces each hit's score."""
    scores: dict[str, float] = {}
    first: dict[str, Hit] = {}
    for hits, weight in ranked_lists:
        for rank, hit in enumerate(hits):
            scores[hit.chunk_id] = scores.get(hit.chunk_id, 0.0) + weight / (RRF_K + rank + 1)
            first.setdefault(hit.chunk_id, hit)
    order = sorted(scores, key=lambda cid: -scores[cid])[:k]
    return [replace(first[cid], score=round(scores[cid], 6)) for cid in order]

def ranks(runtime: Runtime, fixtures: list[dict], how: str, k: int) -> list[dict]:
    out = []
    r = runtime.retriever
    for f in fixtures:
        if not f.get("answerable", True):
            continue
        qv = runtime.embedder.embed([f["question"]])[0]
        dense = r.dense(qv, 30, Filters())
        lexical = r.lexical.search(f["question"], 30, Filters())
        if how == "dense":
            hits = dense[:k]
        elif how == "bm25":
            hits = lexical[:k]
        else:
            w = float(how.split(":")[1])
            hits = fuse([(dense, 1.0), (lexical, w)], k)
        order = list(dict.fromkeys(h.article_id for h in hits))
        rank = next((i + 1 for i, a in enumerate(order) if a in f["sources"]), None)
        quote = f.get("quote")
        evidence = None if not quote else any(" ".join(quote.split()).lower() in
                                               " ".join(h.text.split()).lower() for h in hits)
        out.append({"rank": rank, "evidence": evidence})
    return out


def summary(rows: list[dict]) -> dict:
    n = len(rows)
    ev = [r["evidence"] for r in rows if r["evidence"] is not None]
    return {"hit@1": sum(r["rank"] == 1 for r in rows) / n,
            "hit@5": sum(r["rank"] is not None and r["rank"] <= 5 for r in rows) / n,
            "mrr": sum(1 / r["rank"] for r in rows if r["rank"]) / n,
            "evidence": (sum(ev) / len(ev)) if ev else None}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--essays", type=int, default=60)
    ap.add_argument("--sizes", default="128,200,256")
    ap.add_argument("--overlaps", default="0,1")
    ap.add_argument("--k", type=int, default=5)
    args = ap.parse_args()
    embedder = LocalEmbedder()
    seeds = read_jsonl(SEED_FIXTURES)
    pg = read_jsonl(PG_FIXTURES)
    with tempfile.TemporaryDirectory() as tmp:
        essays = pg_subset(Path(tmp) / "essays.jsonl", args.essays)
        for size in [int(x) for x in args.sizes.split(",")]:
            for overlap in [int(x) for x in args.overlaps.split(",")]:
                settings = Settings(index_dir=Path(tmp) / f"i{size}-{overlap}",
                                    chunk_tokens=size, chunk_overlap_sentences=overlap)
                runtime = Runtime(settings, Store.from_settings(settings), embedder=embedder)
                t = time.perf_counter()
                report = runtime.ingest([SEEDS, essays])
                secs = time.perf_counter() - t
                runtime.retriever.refresh()
                for how in ("dense", "bm25", "rrf:0.5", "rrf:1.0"):
                    row = {"size": size, "overlap": overlap, "chunks": report.chunks,
                           "ingest_s": round(secs, 1), "fusion": how,
                           "seeds": summary(ranks(runtime, seeds, how, args.k)),
                           "essays": summary(ranks(runtime, pg, how, args.k))}
                    print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
