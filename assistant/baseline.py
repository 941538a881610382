"""The peer we must beat: the pipeline a user builds in a few lines of llama-index, following
its documentation, over the same Chroma collection and embedding model.

    index = VectorStoreIndex.from_vector_store(vector_store, embed_model=embed_model)
    engine = CitationQueryEngine.from_args(index, similarity_top_k=3, citation_chunk_size=512)

In openai mode it is exactly that, with the same chat model. In extractive mode there is no
LLM, and llama-index has no answerer without one; the stock engine then amounts to its
retrieval and citation chunks, so the baseline answer is the leading sentences of the first
citation chunk, cited as [1] — what a user of the stock pipeline sees without an LLM. It
never abstains. Its quotes are whole citation chunks located in the article text.
"""

from __future__ import annotations

import time
from typing import Any

from .answer.citations import cite
from .answer.model import Answer, Citation
from .chunking import split_sentences
from .config import Settings
from .embedding import Embedder, llama_embedding
from .store import Hit, Store, hit_from

SIMILARITY_TOP_K = 3  # the CitationQueryEngine example in llama-index's documentation
CITATION_CHUNK_SIZE = 512


class StockPipeline:
    def __init__(self, store: Store, embedder: Embedder, settings: Settings,
                 llm: Any = None) -> None:
        from llama_index.core import VectorStoreIndex
        from llama_index.core.llms import MockLLM
        from llama_index.core.query_engine import CitationQueryEngine

        self.store = store
        self.embedder = embedder
        self.mode = "openai" if llm is not None else "extractive"
        index = VectorStoreIndex.from_vector_store(store.vector_store,
                                                   embed_model=llama_embedding(embedder))
        self.engine = CitationQueryEngine.from_args(
            index, similarity_top_k=SIMILARITY_TOP_K, citation_chunk_size=CITATION_CHUNK_SIZE,
            # Without an LLM the engine is only asked to retrieve; MockLLM keeps it from
            # reaching for OpenAI's default.
            llm=llm if llm is not None else MockLLM(),
        )
        self.settings = settings

    def _hits(self, nodes: list[Any]) -> list[Hit]:
        hits = []
        for n in nodes:
            text = n.node.get_content()
            text = text.split("\n", 1)[1] if text.startswith("Source ") else text
            meta = dict(n.node.metadata)
            # Citation chunks are sub-chunks: locate this one inside its article.
            article = self.store.article_text(str(meta.get("article_id", ""))) or ""
            at = article.find(text)
            meta["start"], meta["end"] = (at, at + len(text)) if at >= 0 else (0, 0)
            hits.append(hit_from(n.node.node_id, text, meta, float(n.score or 0.0)))
        return hits

    def ask(self, question: str) -> Answer:
        started = time.perf_counter()
        if self.mode == "openai":
            response = self.engine.query(question)
            hits = self._hits(response.source_nodes)
            retrieved = time.perf_counter()
            text, citations, notes = cite(str(response), hits, self.embedder)
        else:
            from llama_index.core.schema import QueryBundle

            nodes = self.engine._create_citation_nodes(
                self.engine.retrieve(QueryBundle(question)))
            hits = self._hits(nodes)
            retrieved = time.perf_counter()
            text, citations, notes = _lead_answer(hits)
        done = time.perf_counter()
        return Answer(question=question, answer=text, abstained=False, mode=self.mode,
                      citations=citations, retrieved=hits, notes=notes,
                      timings_ms={"retrieve": (retrieved - started) * 1000,
                                  "generate": (done - retrieved) * 1000,
                                  "total": (done - started) * 1000})


def _lead_answer(hits: list[Hit]) -> tuple[str, list[Citation], list[str]]:
    if not hits:
        return "", [], ["nothing retrieved"]
    top = hits[0]
    spans = split_sentences(top.text)[:2] or [(0, len(top.text))]
    s, e = spans[0][0], spans[-1][1]
    quote = top.text[s:e]
    citation = Citation(n=1, article_id=top.article_id, title=top.title, date=top.date,
                        source=top.source, quote=quote, start=top.start + s,
                        end=top.start + e, supported=True, url=top.url)
    return f"{quote} [1]", [citation], []

