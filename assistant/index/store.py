"""The Chroma store: chunk vectors (through llama-index's ``ChromaVectorStore``) and the
article registry. With ``chroma_client`` (the connection and the translation of Chroma's
errors into ours), the only module that talks to Chroma.

Two collections per name:

- ``<name>``: one record per chunk (vector, text, article metadata, offsets). Its collection
  metadata records the embedding model; opening it with another model raises ``ModelMismatch``.
- ``<name>-registry``: one record per article (full text, metadata, content hash, chunk count).
  An article's registry record is written only after all of its chunks, so it is the commit
  marker: chunks without a registry record are leftovers of an interrupted run and are removed
  before the article is written again. That is what makes ingestion resumable after kill -9.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from assistant.config import Settings
from assistant.errors import ModelMismatch, StoreError
from assistant.index.chroma_client import client_from_settings, translate
from assistant.index.filters import any_of
from assistant.index.records import ArticleRecord, ChunkRow, Hit, hit_from, plain_meta, record_from
from assistant.ingest.articles import Article

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from llama_index.vector_stores.chroma import ChromaVectorStore

_REGISTRY_SUFFIX = "-registry"
_NODE_KEYS = ("_node_content", "_node_type")  # llama-index's serialized node, not metadata
_WRITE_BATCH = 1000


@dataclass(frozen=True)
class _Opened:
    client: ClientAPI
    # Chroma's collections are typed for every metadata it can hold (sparse vectors, lists);
    # ours are flat scalars, read back through ``plain_meta``/``record_from``.
    chunks: Any
    registry: Any
    vector_store: ChromaVectorStore


class Store:
    """``client``: a Chroma client, or a function that makes one. Nothing is opened, nor
    Chroma imported, before the store is first used: a question whose store state is kept
    (``index.kept_state``) is answered from the side index alone, and a fresh process saves
    the 0.3-0.4 s that importing and starting Chroma take (docs/decisions.md, "A fresh ask")."""

    def __init__(self, client: ClientAPI | Callable[[], ClientAPI], collection: str,
                 embed_model: str, label: str = "") -> None:
        self._connect = client if callable(client) else lambda: client
        self.name = collection
        self.embed_model = embed_model
        self.label = label or collection
        self._opened: _Opened | None = None
        self._opening = threading.Lock()

    def _open(self) -> _Opened:
        with self._opening:
            if self._opened is None:
                self._opened = self._open_collections(self._connect())
            return self._opened

    def _open_collections(self, client: ClientAPI) -> _Opened:
        with self._chroma():
            chunks = client.get_or_create_collection(
                self.name, metadata={"embed_model": self.embed_model},
                configuration={"hnsw": {"space": "cosine"}}, embedding_function=None)
            registry = client.get_or_create_collection(
                self.name + _REGISTRY_SUFFIX, metadata={"embed_model": self.embed_model},
                embedding_function=None)
            if (registry.metadata or {}).get("copy_bands") != "1" and registry.count() == 0:
                # A new store: nothing to add bands to.
                registry.modify(metadata={**(registry.metadata or {}), "copy_bands": "1"})
        recorded = (chunks.metadata or {}).get("embed_model")
        if recorded and recorded != self.embed_model:
            raise ModelMismatch(
                f"the collection {self.name!r} was built with the embedding model {recorded!r}, "
                f"not {self.embed_model!r}; use --embed-model {recorded} or another collection"
            )
        from llama_index.vector_stores.chroma import ChromaVectorStore

        return _Opened(client=client, chunks=chunks, registry=registry,
                       vector_store=ChromaVectorStore(chroma_collection=chunks))

    @property
    def vector_store(self) -> ChromaVectorStore:
        return self._open().vector_store

    @property
    def _chunks(self) -> Any:
        return self._open().chunks

    @property
    def _registry(self) -> Any:
        return self._open().registry

    @contextlib.contextmanager
    def _chroma(self) -> Iterator[None]:
        """The one place Chroma's errors become ours (``chroma_client.translate``): every
        call to the client or a collection runs inside it."""
        try:
            yield
        except StoreError:
            raise
        except Exception as e:  # chromadb raises ValueError, ConnectionError, its own types
            raise translate(e, self.label) from e

    @classmethod
    def from_settings(cls, settings: Settings, embed_model: str | None = None) -> Store:
        return cls(lambda: client_from_settings(settings), settings.collection,
                   embed_model or settings.embed_model, label=settings.store_label)

    # ------------------------------------------------------------ registry

    def _registry_records(self, **query: Any) -> list[ArticleRecord]:
        """Registry records by ids or by a ``where`` on their metadata (no query: all)."""
        with self._chroma():
            got = self._registry.get(include=["metadatas"], **query)
        return [record_from(i, m) for i, m in zip(got["ids"], got["metadatas"] or [], strict=True)]

    def articles(self) -> list[ArticleRecord]:
        """Every record: for listings, prune and migrations, never on a write or a question."""
        return sorted(self._registry_records(), key=lambda r: (r.date or "", r.id))

    def records(self, ids: Sequence[str]) -> dict[str, ArticleRecord]:
        """The registry records of these articles, by key (absent ids are left out)."""
        if not ids:
            return {}
        return {r.id: r for r in self._registry_records(ids=list(dict.fromkeys(ids)))}

    def sharing_bands(self, keys: Sequence[str]) -> list[ArticleRecord]:
        """Articles whose copy-detection band keys include any of ``keys``."""
        clauses = [{f"lsh{i}": key} for i, key in enumerate(keys)]
        if not clauses:
            return []
        return self._registry_records(where=clauses[0] if len(clauses) == 1
                                      else {"$or": clauses})

    def copies_of(self, ids: Sequence[str]) -> list[ArticleRecord]:
        """Articles recorded as re-publishing any of these."""
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return []
        return self._registry_records(where=any_of("duplicate_of", wanted))

    def _current_registry(self) -> Any:
        """The registry collection as the server has it now: its metadata (the generation,
        the layout flags) may have been changed by another process since we opened it."""
        return self._open().client.get_collection(self.name + _REGISTRY_SUFFIX,
                                                  embedding_function=None)

    def generation(self) -> str:
        """Changes whenever articles are committed or deleted (by any process): side indexes
        built for another generation are stale. One small request, cheap enough per query."""
        return self.state()[0]

    def state(self) -> tuple[str, bool]:
        """The generation, and whether a write is under way (or was killed) since it was set:
        while one is, the registry may already differ from what that generation's readers
        were told (``begin_write``). One request."""
        with self._chroma():
            meta = self._current_registry().metadata or {}
            return str(meta.get("generation", "0")), bool(meta.get("writing"))

    def begin_write(self) -> bool:
        """Marks a write under way before it changes the registry; ``bump_generation`` ends
        it. Returns whether an earlier write's mark was still there (it was killed)."""
        with self._chroma():
            registry = self._current_registry()
            meta = dict(registry.metadata or {})
            leftover = bool(meta.get("writing"))
            meta["writing"] = uuid.uuid4().hex
            registry.modify(metadata=meta)
        return leftover

    def bump_generation(self) -> tuple[str, str]:
        """A new generation tag, ending any write under way; returns (the tag before, the
        new one)."""
        with self._chroma():
            registry = self._current_registry()
            meta = dict(registry.metadata or {})
            before = str(meta.get("generation", "0"))
            meta["generation"] = uuid.uuid4().hex
            meta["writing"] = ""
            registry.modify(metadata=meta)
        return before, str(meta["generation"])

    def article_text(self, article_id: str) -> str | None:
        with self._chroma():
            got = self._registry.get(ids=[article_id], include=["documents"])
        docs = got.get("documents") or []
        return docs[0] if docs else None

    def article_texts(self, ids: Sequence[str]) -> dict[str, str]:
        if not ids:
            return {}
        with self._chroma():
            got = self._registry.get(ids=list(dict.fromkeys(ids)), include=["documents"])
        return dict(zip(got["ids"], got["documents"] or [], strict=True))

    def commit_article(self, article: Article, chunks: int, duplicate_of: str | None,
                       signature: str = "") -> None:
        self.commit_articles([(article, chunks, duplicate_of, signature)])

    def commit_articles(self, items: Sequence[tuple[Article, int, str | None, str]],
                        bands: Sequence[Sequence[str]] | None = None) -> None:
        """Registry records for articles whose chunks are all written: the commit marker.
        Each item: (article, chunk count, id of the article it copies, MinHash signature);
        ``bands``: each article's copy-detection band keys, stored as ``lsh<i>`` fields so
        that ``sharing_bands`` finds candidates by key."""
        if not items:
            return
        metas: list[dict[str, Any]] = [{
            "title": a.title, "date": a.date or "", "date_int": a.date_int,
            "source": a.source or "", "url": a.url or "", "dateline": a.dateline or "",
            "path": a.path or "", "hash": a.content_hash, "chunks": n,
            "duplicate_of": dup or "", "minhash": sig,
        } for a, n, dup, sig in items]
        for meta, keys in zip(metas, bands or [()] * len(metas), strict=True):
            meta.update({f"lsh{i}": key for i, key in enumerate(keys)})
        with self._chroma():
            self._registry.upsert(ids=[a.id for a, *_ in items],
                                  documents=[a.text for a, *_ in items], metadatas=metas,
                                  embeddings=[[1.0]] * len(items))

    def ensure_copy_bands(self, bands_of: Callable[[str], list[str]]) -> None:
        """Stores written before copy detection asked by key lack the band keys: add them
        once, from each record's signature (the only whole read of the registry, once)."""
        with self._chroma():
            registry = self._current_registry()
            if (registry.metadata or {}).get("copy_bands") == "1":
                return
            got = self._registry.get(include=["metadatas"])
            ids, metas = [], []
            for i, m in zip(got["ids"], got["metadatas"] or [], strict=True):
                m = dict(m or {})
                if m.get("minhash") and "lsh0" not in m:
                    m.update({f"lsh{n}": key for n, key in enumerate(bands_of(m["minhash"]))})
                    ids.append(i)
                    metas.append(m)
            for n in range(0, len(ids), _WRITE_BATCH):
                self._registry.update(ids=ids[n : n + _WRITE_BATCH],
                                      metadatas=metas[n : n + _WRITE_BATCH])
            registry = self._current_registry()
            fresh = dict(registry.metadata or {})
            fresh["copy_bands"] = "1"
            registry.modify(metadata=fresh)

    def mark_duplicate(self, article_id: str, original: str | None) -> None:
        """Records that a stored article re-publishes ``original`` (found after it)."""
        with self._chroma():
            got = self._registry.get(ids=[article_id], include=["metadatas"])
            if not got["ids"]:
                return
            meta = dict((got["metadatas"] or [{}])[0] or {})
            meta["duplicate_of"] = original or ""
            self._registry.update(ids=[article_id], metadatas=[meta])

    def delete_article(self, article_id: str) -> list[str]:
        """Registry record first, so readers stop seeing the article at once (hits of an
        article without a record are dropped), then its chunks; returns their ids. The
        caller bumps the generation. A crash in between leaves chunks no reader shows,
        removed by the next write of that id or by ``assistant reindex``."""
        with self._chroma():
            self._registry.delete(ids=[article_id])
        return self.remove_stale_chunks([article_id], keep=set())

    def remove_stale_chunks(self, article_ids: Sequence[str], keep: set[str]) -> list[str]:
        """Deletes the chunks of these articles that are not in ``keep`` (an older version's,
        or leftovers of an interrupted write); returns their ids. Asked by article, so the
        cost is that of the articles, not of the store."""
        if not article_ids:
            return []
        with self._chroma():
            got = self._chunks.get(where=any_of("article_id", list(dict.fromkeys(article_ids))),
                                   include=[])
            stale = [cid for cid in got["ids"] if cid not in keep]
            if stale:
                self._chunks.delete(ids=stale)
        return stale

    # ------------------------------------------------------------ chunks

    def add_rows(self, rows: Sequence[ChunkRow]) -> None:
        """Chunks with their metadata and vectors (``records.chunk_rows``), in as few writes
        as possible. Which article copies which lives in the registry alone, where it can
        change."""
        from llama_index.core.schema import BaseNode, NodeRelationship, RelatedNodeInfo, TextNode

        nodes: list[BaseNode] = []
        for row in rows:
            node = TextNode(
                id_=row.chunk_id,
                text=row.text,
                embedding=row.vector.tolist(),
                metadata=dict(row.meta),
                start_char_idx=row.meta["start"],
                end_char_idx=row.meta["end"],
            )
            node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(
                node_id=row.meta["article_id"])
            nodes.append(node)
        with self._chroma():
            for i in range(0, len(nodes), _WRITE_BATCH):
                self.vector_store.add(nodes[i : i + _WRITE_BATCH])

    def chunk_count(self) -> int:
        with self._chroma():
            return int(self._chunks.count())

    def chunk_ids(self, batch: int = 10_000) -> set[str]:
        """Every chunk's id (ids only: what the side index compares itself with)."""
        out: set[str] = set()
        offset = 0
        while True:
            with self._chroma():
                got = self._chunks.get(include=[], limit=batch, offset=offset)
            if not got["ids"]:
                return out
            out.update(got["ids"])
            offset += len(got["ids"])

    def chunks_by_id(self, ids: Sequence[str], batch: int = 1000
                     ) -> Iterator[ChunkRow]:
        """(chunk id, text, metadata, vector) of the given chunks, in pages."""
        for i in range(0, len(ids), batch):
            with self._chroma():
                got = self._chunks.get(ids=list(ids[i : i + batch]),
                                       include=["documents", "metadatas", "embeddings"])
            for cid, doc, meta, vec in zip(got["ids"], got["documents"] or [],
                                           got["metadatas"] or [], got["embeddings"],
                                           strict=True):
                yield ChunkRow(cid, doc or "", plain_meta(meta), np.asarray(vec, dtype=np.float32))

    def iter_chunks(self, batch: int = 2000) -> Iterator[tuple[str, str, dict[str, object]]]:
        """(chunk id, text, metadata as stored, llama-index's own keys included: what a stock
        llama-index pipeline over this store indexes) of every chunk, in pages."""
        for cid, doc, meta, _ in self._pages(batch, ["documents", "metadatas"]):
            yield cid, doc, {k: v for k, v in meta.items() if k not in _NODE_KEYS}

    def iter_vectors(self, batch: int = 2000) -> Iterator[ChunkRow]:
        """(chunk id, text, metadata, vector) of every chunk, in pages."""
        for cid, doc, meta, vec in self._pages(batch, ["documents", "metadatas", "embeddings"]):
            yield ChunkRow(cid, doc, plain_meta(meta), vec)

    def _pages(self, batch: int, include: list[str]
               ) -> Iterator[tuple[str, str, dict[str, object], np.ndarray]]:
        offset = 0
        empty = np.zeros(0, dtype=np.float32)
        while True:
            with self._chroma():
                got = self._chunks.get(include=include, limit=batch, offset=offset)
            ids = got["ids"]
            if not ids:
                return
            vectors = got.get("embeddings")
            if vectors is None:
                vectors = [empty] * len(ids)
            for cid, doc, meta, vec in zip(ids, got["documents"] or [], got["metadatas"] or [],
                                           vectors, strict=True):
                yield cid, doc or "", dict(meta or {}), np.asarray(vec, dtype=np.float32)
            offset += len(ids)

    def query(self, vector: np.ndarray, n: int,
              where: dict[str, object] | None = None) -> list[Hit]:
        """The ``n`` nearest chunks, by cosine similarity, optionally filtered in Chroma."""
        from llama_index.core.vector_stores.types import VectorStoreQuery

        if n <= 0:
            return []
        # Chroma answers with fewer results (or none) when n exceeds the collection.
        query = VectorStoreQuery(query_embedding=vector.tolist(), similarity_top_k=n)
        with self._chroma():
            result = self.vector_store.query(query, **({"where": where} if where else {}))
        hits = []
        for node, sim in zip(result.nodes or [], result.similarities or [], strict=False):
            meta = node.metadata
            # ChromaVectorStore reports exp(-distance); with cosine distance that is exp(cos - 1).
            cosine = 1.0 + float(np.log(max(sim, 1e-12)))
            hits.append(hit_from(node.node_id, node.get_content(), plain_meta(meta), cosine))
        return hits
