"""The peers we must beat, measured in the same run over the same Chroma collection and
embedding model (same chunks, same vectors), each at the same budget as ours: the chunks it
puts before its answerer are ``settings.top_k`` (5 unless told).

- ``StockPipeline`` ("baseline"): what llama-index's documentation shows first::

      index = VectorStoreIndex.from_vector_store(vector_store, embed_model=embed_model)
      engine = CitationQueryEngine.from_args(index, similarity_top_k=5)

- ``HybridPipeline`` ("hybrid"): the plain hybrid a llama-index user writes in ten lines::

      vector = index.as_retriever(similarity_top_k=5)
      bm25 = BM25Retriever.from_defaults(nodes=nodes, similarity_top_k=5)
      fusion = QueryFusionRetriever([vector, bm25], mode="reciprocal_rerank",
                                    similarity_top_k=5, num_queries=1)

Both run over the chunks already in the collection rather than re-chunking with
llama-index's default 1,024-token splitter: a re-chunked copy would need the whole corpus
embedded again for every evaluation, and its chunks would be cut to the model's 256
wordpieces before embedding anyway (see README, *Speed*). Holding the chunks equal isolates
what retrieval and answering add.

In openai mode each peer answers with the same chat model through the stock
``CitationQueryEngine`` prompt. In extractive mode llama-index has no answerer without an
LLM, so a peer's answer is what its user sees without one: the leading sentences of its
first retrieved chunk, cited as [1]. Peers never abstain. Their citations are judged as ours
are (``citations.cite`` for a model's sentences; for a quoted answer, ``judge``: the answer
combination's probability that the quote answers the question), so ``supported`` means the
same thing in every column.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from assistant.answer.citations import cite
from assistant.answer.model import Answer, Citation
from assistant.config import Settings
from assistant.index.embedding import Embedder, llama_embedding
from assistant.index.records import Hit, hit_from, plain_meta
from assistant.index.store import Store

if TYPE_CHECKING:
    from llama_index.core.llms import LLM
    from llama_index.core.query_engine import CitationQueryEngine, RetrieverQueryEngine
    from llama_index.core.schema import NodeWithScore


class _Peer:
    mode = "extractive"

    def __init__(self, store: Store, embedder: Embedder, settings: Settings,
                 judge: Callable[[str, Hit], tuple[float, bool]], llm: LLM | None = None) -> None:
        """``judge``: whether a quote answers a question, and the probability
        (``Runtime.quote_answers``): it marks a quoted answer's citation supported or not."""
        from llama_index.core import VectorStoreIndex

        self.store = store
        self.embedder = embedder
        self.settings = settings
        self.judge = judge
        self.llm = llm
        self.mode = "openai" if llm is not None else "extractive"
        self.index = VectorStoreIndex.from_vector_store(store.vector_store,
                                                        embed_model=llama_embedding(embedder))
        self.engine = self._engine()

    def _engine(self) -> CitationQueryEngine | RetrieverQueryEngine:
        raise NotImplementedError

    def _hits(self, nodes: list[NodeWithScore]) -> list[Hit]:
        hits = []
        for n in nodes:
            text = n.node.get_content()
            text = text.split("\n", 1)[1] if text.startswith("Source ") else text
            # The peers' own node splitting may cut a stored chunk: its stored sentence spans
            # would not fit the text, so the answer splits what it gets.
            meta = plain_meta(n.node.metadata)
            meta["sentences"] = ""
            # Citation chunks may be sub-chunks: locate this one inside its article.
            if "start" not in n.node.metadata or text != n.node.get_content():
                article = self.store.article_text(meta["article_id"]) or ""
                at = article.find(text)
                meta["start"], meta["end"] = (at, at + len(text)) if at >= 0 else (0, 0)
            hits.append(hit_from(n.node.node_id, text, meta, float(n.score or 0.0)))
        return hits

    def ask(self, question: str) -> Answer:
        from llama_index.core.schema import QueryBundle

        started = time.perf_counter()
        if self.mode == "openai":
            response = self.engine.query(question)
            hits = self._hits(response.source_nodes)
            retrieved = time.perf_counter()
            raw = str(response)
        else:
            nodes = self.engine.retrieve(QueryBundle(question))
            hits = self._hits(nodes)
            retrieved = time.perf_counter()
            raw = ""
        if self.mode == "openai":
            text, citations, notes = cite(raw, hits, self.embedder)
        else:
            text, citations, notes = _lead_answer(question, hits, self.judge)
        done = time.perf_counter()
        return Answer(question=question, answer=text, abstained=False, mode=self.mode,
                      citations=citations, retrieved=hits, notes=notes,
                      timings_ms={"retrieve": (retrieved - started) * 1000,
                                  "generate": (done - retrieved) * 1000,
                                  "total": (done - started) * 1000})


class StockPipeline(_Peer):
    """``VectorStoreIndex`` + ``CitationQueryEngine`` at our budget."""

    def _engine(self) -> CitationQueryEngine:
        from llama_index.core.llms import MockLLM
        from llama_index.core.query_engine import CitationQueryEngine

        return CitationQueryEngine.from_args(
            self.index, similarity_top_k=self.settings.top_k,
            # Without an LLM the engine is only asked to retrieve; MockLLM keeps it from
            # reaching for OpenAI's default.
            llm=self.llm if self.llm is not None else MockLLM(),
        )


class HybridPipeline(_Peer):
    """The vector index + ``BM25Retriever`` fused by ``QueryFusionRetriever`` (RRF)."""

    def _engine(self) -> RetrieverQueryEngine:
        from llama_index.core.llms import MockLLM
        from llama_index.core.query_engine import RetrieverQueryEngine
        from llama_index.core.retrievers import QueryFusionRetriever
        from llama_index.core.retrievers.fusion_retriever import FUSION_MODES
        from llama_index.core.schema import BaseNode, TextNode
        from llama_index.retrievers.bm25 import BM25Retriever

        k = self.settings.top_k
        nodes: list[BaseNode] = [TextNode(id_=cid, text=text, metadata=dict(meta))
                                 for cid, text, meta in self.store.iter_chunks()]
        bm25 = BM25Retriever.from_defaults(nodes=nodes, similarity_top_k=min(k, len(nodes)))
        llm = self.llm if self.llm is not None else MockLLM()
        fusion = QueryFusionRetriever(
            [self.index.as_retriever(similarity_top_k=k), bm25], llm=llm,
            mode=FUSION_MODES.RECIPROCAL_RANK, similarity_top_k=k, num_queries=1, use_async=False)
        return RetrieverQueryEngine.from_args(fusion, llm=llm)


def _lead_answer(question: str, hits: list[Hit], judge: Callable[[str, Hit], tuple[float, bool]]
                 ) -> tuple[str, list[Citation], list[str]]:
    """The first two sentences of the first chunk, cited as [1], with the same verdict on
    whether the quote answers the question as our extractive citations get."""
    if not hits:
        return "", [], ["nothing retrieved"]
    top = hits[0]
    spans = top.sentence_spans()[:2] or ((0, len(top.text)),)
    s, e = spans[0][0], spans[-1][1]
    quote = top.text[s:e]
    score, answers = judge(question, replace(top, text=quote, start=top.start + s,
                                             end=top.start + e, sentences=()))
    citation = Citation(n=1, article_id=top.article_id, title=top.title, date=top.date,
                        source=top.source, quote=quote, start=top.start + s, end=top.start + e,
                        supported=answers, url=top.url, support_score=score,
                        verdict="supported" if answers else "weak")
    return f"{quote} [1]", [citation], []
