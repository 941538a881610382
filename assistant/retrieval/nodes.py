"""The hybrid retrieval as llama-index retrievers, so that it runs inside llama-index's own
query and chat engines, and every question the assistant answers goes through one.

- ``NewsRetriever``: one search of ``hybrid.Retriever`` (dense + BM25 ranked as articles,
  fused, filtered, one copy per story) for a question already read for its dates and
  outlets; a ``QueryBundle`` that carries the question's embedding is not embedded again.
  The runtime answers through it.
- ``QuestionRetriever``: the same for a question as a person asks it: its dates ("this
  week", read against ``today``) and outlets become filters and favours first, as in the
  assistant itself (``Runtime.as_retriever``).

Each chunk is a ``TextNode`` whose text is exactly the article's text at ``start_char_idx``
.. ``end_char_idx``, with the article's id, title, date, outlet and URL as metadata, so a
llama-index user can cite it the way the assistant does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from assistant.index.records import Hit, decode_spans, encode_spans

if TYPE_CHECKING:
    from assistant.index.filters import Filters
    from assistant.retrieval.hybrid import Retriever


def node_of(hit: Hit) -> NodeWithScore:
    metadata = {"article_id": hit.article_id, "title": hit.title, "date": hit.date,
                "source": hit.source, "url": hit.url, "duplicate_of": hit.duplicate_of,
                "sentences": encode_spans(hit.sentences)}
    node = TextNode(id_=hit.chunk_id, text=hit.text, metadata=metadata,
                    start_char_idx=hit.start, end_char_idx=hit.end)
    return NodeWithScore(node=node, score=hit.score)


def hit_of(found: NodeWithScore) -> Hit:
    node = found.node
    if not isinstance(node, TextNode):
        raise TypeError(f"not a text chunk: {node.node_id}")
    meta = node.metadata
    return Hit(chunk_id=node.node_id, article_id=meta["article_id"],
               text=node.get_content(), start=node.start_char_idx or 0,
               end=node.end_char_idx or 0, score=float(found.score or 0.0),
               title=meta["title"], date=meta["date"], source=meta["source"], url=meta["url"],
               duplicate_of=meta["duplicate_of"], sentences=decode_spans(meta["sentences"]))


def search(retriever: BaseRetriever, question: str, vector: np.ndarray | None = None
           ) -> list[Hit]:
    """The hits of a llama-index retriever for ``question`` (already embedded: ``vector``)."""
    bundle = QueryBundle(question, embedding=vector.tolist() if vector is not None else None)
    return [hit_of(n) for n in retriever.retrieve(bundle)]


class NewsRetriever(BaseRetriever):
    """One search for a question already read for its dates and outlets."""

    def __init__(self, retriever: Retriever, top_k: int, filters: Filters | None = None,
                 favoured: tuple[str, str] | None = None, generation: str | None = None,
                 settled: bool = False) -> None:
        super().__init__()
        self._search = retriever
        self._top_k = top_k
        self._filters = filters
        self._favoured = favoured
        self._generation = generation
        self._settled = settled

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        vector = (np.asarray(query_bundle.embedding, dtype=np.float32)
                  if query_bundle.embedding is not None else None)
        hits = self._search.retrieve(query_bundle.query_str, self._top_k, self._filters, vector,
                                     favoured=self._favoured, generation=self._generation,
                                     settled=self._settled)
        return [node_of(h) for h in hits]


class QuestionRetriever(BaseRetriever):
    """A question as a person asks it, searched by ``search`` (``Runtime.as_retriever``:
    read for its dates and outlets first, the side index kept current)."""

    def __init__(self, search: Callable[[str], list[Hit]]) -> None:
        super().__init__()
        self._search_question = search

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return [node_of(h) for h in self._search_question(query_bundle.query_str)]
