"""Hybrid retrieval: dense (Chroma) + BM25 (the FTS5 side index, ``index/side_search.py``), fused by
reciprocal rank of articles.

Filters (date range, outlet): Chroma's ``where`` turns a 4 ms top-20 query into 80-470 ms
(issue #3's numbers and our bench at 100k chunks), so a filtered query never goes there
first. The side index keeps a copy of the chunk vectors, and a filtered dense search is an
exact scan of just the chunks the filter accepts (milliseconds at 100k). Without that copy it
over-fetches 300 neighbours and filters them in Python, and only when that leaves fewer than
k does it ask Chroma with ``where``, so the result stays correct for rare filters. The side
index follows the store, never the other way round (``side_index.SideIndex.sync``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from assistant.index.embedding import Embedder
from assistant.index.filters import Filters
from assistant.index.records import ArticleRecord, Hit
from assistant.index.side_index import SideIndex
from assistant.index.store import Store

DENSE_OVERFETCH = 300
RRF_K = 60
LONG_OVERFETCH = 3  # dense chunks read per chunk kept, so that discounted ones are replaced


@dataclass(frozen=True)
class RetrievalTuning:
    """How chunk rankings become the passages an answerer sees (docs/tuning.md)."""

    dense_weight: float = 1.0
    lexical_weight: float = 1.0
    pool: int = 30  # chunks asked of each ranking
    article_rrf_k: float = 60.0  # reciprocal-rank constant over article rankings
    depth: float = 0.0  # weight of an article's further good chunks
    extra_chunks: int = 2  # further chunks of those articles (best first), after one each
    favour: float = 1.0  # bonus, in top ranks, for articles inside the asked-about window
    lexical_candidates: int = 10  # FTS5's best (this × pool) chunks, ranked again by BM25
    long_discount: float = 0.02  # off a dense score per e-fold of chunks past long_chunks...
    long_chunks: int = 40  # ... an article longer than this (a round-up) is discounted


EXACT_SCAN_LIMIT = 150_000  # chunks up to which every dense ranking is exact (docs/tuning.md)
_RECORDS_KEPT = 50_000  # registry records kept between questions (a few MB)


class Retriever:
    def __init__(self, store: Store, embedder: Embedder, lexical: SideIndex,
                 tuning: RetrievalTuning | None = None) -> None:
        self.store = store
        self.embedder = embedder
        self.lexical = lexical
        self.tuning = tuning or RetrievalTuning()
        # Registry records already read, for the store generation they were read at.
        self._records: tuple[str, dict[str, ArticleRecord | None]] = ("", {})

    def refresh(self, generation: str | None = None) -> None:
        self.lexical.sync(self.store, generation)

    def dense(self, query_vector: np.ndarray, k: int, filters: Filters) -> list[Hit]:
        """The k nearest chunks. Exact from the side index's vector file while the store is
        small enough for one pass (under 30 ms at 150k chunks on this machine): Chroma's
        local HNSW misses true nearest neighbours, and which ones depends on the process
        (it rebuilds its unpersisted part of the graph at every start; chroma issue #3638),
        so the same question could rank differently in two processes. Past that size, and
        with no vector file, unfiltered queries go to HNSW."""
        if not filters.active and self.lexical.count() > EXACT_SCAN_LIMIT:
            return self.store.query(query_vector, k)
        exact = self.lexical.dense(query_vector, k, filters)
        if exact is not None:
            return exact
        if not filters.active:
            return self.store.query(query_vector, k)
        hits = [h for h in self.store.query(query_vector, max(DENSE_OVERFETCH, k))
                if filters.accepts(h.date, h.source)]
        if len(hits) >= k:
            return hits[:k]
        return self.store.query(query_vector, k, where=filters.chroma_where())

    def retrieve(self, query: str, k: int, filters: Filters | None = None,
                 query_vector: np.ndarray | None = None,
                 copies: Mapping[str, str] | None = None,
                 favoured: tuple[str, str] | None = None,
                 generation: str | None = None, settled: bool = False) -> list[Hit]:
        """The best chunk of each of the k best articles (then any extra chunks).

        ``copies`` maps a re-published article to its original; ``favoured`` is an ISO date
        window ("this week") whose articles get a bonus without shutting others out;
        ``generation``, the store generation this question was read at, and ``settled``, no
        write under way then (``Store.state``), let the side index's copy of the registry
        at that generation answer for it, or registry records read for earlier questions
        of that generation be used again."""
        filters = filters or Filters()
        if query_vector is None:
            query_vector = self.embedder.embed([query])[0]
        t = self.tuning
        pool = max(t.pool, k)
        if t.long_discount:
            dense = self.discount_long(self.dense(query_vector, pool * LONG_OVERFETCH,
                                                  filters))[:pool]
        else:
            dense = self.dense(query_vector, pool, filters)
        lexical = self.lexical.search(query, pool, filters, t.lexical_candidates)
        if copies is None:
            dense, lexical, copies = self._committed(dense, lexical, generation=generation,
                                                     settled=settled)
        return rank_articles([(dense, t.dense_weight), (lexical, t.lexical_weight)], k, t,
                             copies, favoured)

    def discount_long(self, hits: list[Hit]) -> list[Hit]:
        """The dense ranking with each chunk's cosine lowered by ``long_discount`` per
        e-fold of its article's chunks past ``long_chunks``. A round-up ("News from around
        our 50 states", a live blog) holds dozens of chunks, each a chance to come near any
        question, and its first chunk in the ranking decides the article's place: such pages
        pushed a two-chunk report that the question names out of the first five
        (docs/tuning.md, sixth round). Articles of ordinary length keep their scores."""
        t = self.tuning
        counts = self.lexical.chunk_counts([h.article_id for h in hits])

        def discounted(hit: Hit) -> float:
            n = counts.get(hit.article_id, 1)
            return hit.score - t.long_discount * math.log(max(1.0, n / t.long_chunks))

        return sorted(hits, key=lambda h: -discounted(h))

    def _committed(self, *rankings: list[Hit], generation: str | None = None,
                   settled: bool = False) -> tuple[Any, ...]:
        """The rankings without chunks no reader may see (an article not committed yet, or
        not any more; an older version's chunks during an update), and which of their
        articles re-publish another. From the side index's copy of the registry when it is
        that generation's and no write is under way, else asked of the registry by key, for
        these articles only.

        Why records are kept per generation: reading them is a third of a question's
        retrieval at 100k chunks (metadata of ~50 articles), and a record changes only with
        a write, which moves the generation. A record read before a concurrent write's
        generation bump shows the article as it was, or not yet: a whole version either way."""
        wanted = list({h.article_id for hits in rankings for h in hits})
        settled_at = generation if settled else None
        versions = self.lexical.visibility(wanted, settled_at) if settled_at else None
        if versions is None:
            # Without a settled generation a write may be under way (or was killed): the
            # registry as it is now.
            records = self._records_of(wanted, settled_at) if settled_at \
                else self.store.records(wanted)
            versions = {a: (r.hash[:12], r.duplicate_of) for a, r in records.items()}

        def visible(hit: Hit) -> bool:
            seen = versions.get(hit.article_id)
            return seen is not None and chunk_version(hit.chunk_id) in ("", seen[0])

        copies = {a: original for a, (_, original) in versions.items() if original}
        return (*([h for h in hits if visible(h)] for hits in rankings), copies)

    def _records_of(self, wanted: list[str], generation: str) -> dict[str, ArticleRecord]:
        """Registry records, those read for earlier questions of this generation again."""
        if self._records[0] != generation:
            self._records = (generation, {})
        known = self._records[1]
        missing = [a for a in wanted if a not in known]
        if missing:
            if len(known) > _RECORDS_KEPT:
                known.clear()
            got = self.store.records(missing)
            known.update({a: got.get(a) for a in missing})
        return {a: r for a in wanted if (r := known.get(a)) is not None}


def rank_articles(ranked_lists: Sequence[tuple[list[Hit], float]], k: int,
                  tuning: RetrievalTuning, copies: Mapping[str, str],
                  favoured: tuple[str, str] | None = None) -> list[Hit]:
    """Articles ranked by reciprocal-rank fusion of where each ranking first shows them
    (plus, with ``depth``, credit for their further chunks), one copy per story.

    Ranking articles rather than chunks lets five passages show five candidate articles
    instead of five chunks of the one that happens to match best; a re-published copy gives
    way to its original when both were found, and two copies of one story count once."""
    chunk_score: dict[str, float] = {}
    story_score: dict[str, float] = {}
    first: dict[str, Hit] = {}
    found = {h.article_id for hits, _ in ranked_lists for h in hits}
    for hits, weight in ranked_lists:
        seen: set[str] = set()  # stories this ranking has shown already
        for rank, hit in enumerate(hits):
            first.setdefault(hit.chunk_id, hit)
            chunk_score[hit.chunk_id] = (chunk_score.get(hit.chunk_id, 0.0)
                                         + weight / (RRF_K + rank + 1))
            story = copies.get(hit.article_id) or hit.article_id
            if story in seen:
                story_score[story] += tuning.depth * weight / (RRF_K + rank + 1)
                continue
            seen.add(story)
            story_score[story] = (story_score.get(story, 0.0)
                                  + weight / (tuning.article_rrf_k + len(seen)))
    if favoured and tuning.favour:
        lo, hi = favoured
        inside = {copies.get(h.article_id) or h.article_id for h in first.values()
                  if h.date and lo <= h.date <= hi}
        for story in inside & story_score.keys():
            story_score[story] += tuning.favour / (tuning.article_rrf_k + 1)
    by_article: dict[str, list[Hit]] = {}
    for cid in sorted(chunk_score, key=lambda c: -chunk_score[c]):
        hit = first[cid]
        by_article.setdefault(hit.article_id, []).append(
            replace(hit, score=round(chunk_score[cid], 6),
                    duplicate_of=copies.get(hit.article_id)))
    stories = sorted(story_score, key=lambda s: -story_score[s])[:k]
    chosen: list[list[Hit]] = []
    for story in stories:
        # The original when it was found, else the best-placed copy.
        article = story if story in found else next(
            a for a in by_article if (copies.get(a) or a) == story)
        chosen.append(by_article[article])
    # One chunk per article first; then the best of their further chunks, by fused score,
    # up to k + extra_chunks (so a store with fewer than k matching articles still fills k).
    out = [hits[0] for hits in chosen]
    further = sorted((h for hits in chosen for h in hits[1:]), key=lambda h: -h.score)
    return out + further[: k + tuning.extra_chunks - len(out)]


def chunk_version(chunk_id: str) -> str:
    """The content-hash prefix in a chunk id (``<article>::<version>::<n>``; "" for ids
    written before versions were)."""
    parts = chunk_id.rsplit("::", 2)
    return parts[1] if len(parts) == 3 else ""


