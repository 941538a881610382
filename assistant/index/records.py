"""The values the store hands out (``ArticleRecord``, ``Hit``, ``RegistryChange``) and the
chunk metadata they are written as and read back from.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, TypedDict

import numpy as np

from assistant.ingest.articles import Article
from assistant.ingest.chunking import Chunk, split_sentences

Spans = tuple[tuple[int, int], ...]


class ChunkMeta(TypedDict):
    """The metadata a chunk is stored with (``chunk_meta``) and read back as."""

    article_id: str
    title: str
    date: str  # ISO day, or "" (Chroma stores no None)
    date_int: int  # YYYYMMDD, 0 without a date: what date filters compare
    source: str
    url: str
    start: int
    end: int
    index: int
    sentences: str  # the chunk's sentence spans (``encode_spans``); "" in stores written before


class ChunkRow(NamedTuple):
    """A stored chunk as the store hands it to the side index: id, text, metadata, vector."""

    chunk_id: str
    text: str
    meta: ChunkMeta
    vector: np.ndarray


@dataclass(frozen=True)
class ArticleRecord:
    """What the registry knows of an article."""

    id: str
    title: str
    date: str | None
    source: str | None
    url: str | None
    dateline: str | None
    path: str | None
    hash: str
    chunks: int
    duplicate_of: str | None = None
    minhash: str = ""  # the MinHash signature that copy detection compares


@dataclass(frozen=True, kw_only=True)
class RegistryChange:
    """What one write changed in the registry, for the side index's copy of which version
    of each article readers may see and which article it re-publishes."""

    committed: tuple[tuple[str, str, str | None], ...] = ()  # (id, version, copy of)
    recopied: tuple[tuple[str, str | None], ...] = ()  # (id, copy of) marked again
    removed: tuple[str, ...] = ()
    after_crash: bool = False  # an earlier write was killed: its changes are unknown


@dataclass(frozen=True)
class Hit:
    """One retrieved chunk."""

    chunk_id: str
    article_id: str
    text: str
    start: int
    end: int
    score: float
    title: str
    date: str | None
    source: str | None
    url: str | None
    duplicate_of: str | None = None  # set by retrieval from the registry
    sentences: Spans = ()  # (start, end) in ``text``, as ingestion split it

    def __post_init__(self) -> None:
        # A hit whose text was cut from a chunk must not keep the chunk's spans.
        if self.sentences and self.sentences[-1][1] > len(self.text):
            raise ValueError(f"sentence spans of {self.chunk_id} run past its text")

    def sentence_spans(self) -> Spans:
        """The chunk's sentences: the spans stored at ingestion (so answering a question
        never loads the sentence splitter), split here for chunks stored before they were."""
        return self.sentences or tuple(split_sentences(self.text))


def chunk_meta(article: Article, chunk: Chunk) -> ChunkMeta:
    """The metadata a chunk is stored with (and the side index reads back)."""
    return {
        "article_id": article.id, "title": article.title,
        "date": article.date or "", "date_int": article.date_int,
        "source": article.source or "", "url": article.url or "",
        "start": chunk.start, "end": chunk.end, "index": chunk.index,
        "sentences": encode_spans(split_sentences(chunk.text)),
    }


def chunk_rows(article: Article, chunks: Sequence[Chunk], vectors: np.ndarray) -> list[ChunkRow]:
    """An article's chunks as they are written: the store and the side index get the same
    rows, so each chunk's metadata (its sentence spans among it) is worked out once."""
    return [ChunkRow(c.id, c.text, chunk_meta(article, c), v)
            for c, v in zip(chunks, vectors, strict=True)]


def encode_spans(spans: Sequence[tuple[int, int]]) -> str:
    """Spans as a metadata string ("0-45 46-120"): Chroma stores scalars only."""
    return " ".join(f"{s}-{e}" for s, e in spans)


def decode_spans(encoded: str | None) -> Spans:
    if not encoded:
        return ()
    return tuple((int(s), int(e)) for s, e in (p.split("-") for p in encoded.split()))


def hit_from(chunk_id: str, text: str, meta: ChunkMeta, score: float) -> Hit:
    return Hit(
        chunk_id=chunk_id, article_id=meta["article_id"], text=text, start=meta["start"],
        end=meta["end"], score=score, title=meta["title"], date=meta["date"] or None,
        source=meta["source"] or None, url=meta["url"] or None,
        sentences=decode_spans(meta["sentences"]),
    )


def plain_meta(meta: Mapping[str, object] | None) -> ChunkMeta:
    """A chunk's metadata as Chroma returns it, less what llama-index's vector store adds."""
    m: dict[str, Any] = dict(meta or {})
    return ChunkMeta(
        article_id=str(m.get("article_id", "")), title=str(m.get("title", "")),
        date=str(m.get("date") or ""), date_int=int(m.get("date_int") or 0),
        source=str(m.get("source") or ""), url=str(m.get("url") or ""),
        start=int(m.get("start") or 0), end=int(m.get("end") or 0),
        index=int(m.get("index") or 0), sentences=str(m.get("sentences") or ""))


def record_from(article_id: str, meta: Mapping[str, object] | None) -> ArticleRecord:
    m: dict[str, Any] = dict(meta or {})
    return ArticleRecord(
        id=article_id, title=str(m.get("title", "")), date=m.get("date") or None,
        source=m.get("source") or None, url=m.get("url") or None,
        dateline=m.get("dateline") or None, path=m.get("path") or None,
        hash=str(m.get("hash", "")), chunks=int(m.get("chunks", 0)),
        duplicate_of=m.get("duplicate_of") or None, minhash=str(m.get("minhash", "")),
    )
