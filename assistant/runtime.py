"""The parts of a running assistant, built once from ``Settings`` and shared by CLI, UI, eval."""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np

from assistant.answer.combination import Combination
from assistant.answer.extractive import ExtractiveAnswerer, ExtractiveTuning
from assistant.answer.generative import LOCAL_MODEL_SENTENCES, GenerativeAnswerer
from assistant.answer.model import Answer
from assistant.answer.reading import ReadingModel
from assistant.config import Settings
from assistant.index.embedding import Embedder, LocalEmbedder, make_embedder
from assistant.index.filters import Filters
from assistant.index.kept_state import KeptState
from assistant.index.records import ChunkRow, Hit, RegistryChange
from assistant.index.side_index import SideIndex
from assistant.index.store import Store
from assistant.index.writer import ingest, remove_article
from assistant.ingest.copies import NearDuplicates
from assistant.ingest.report import IngestReport
from assistant.llm.client import ChatModel
from assistant.llm.local import served_here
from assistant.prompts import render
from assistant.query.entities import KIND_WORDS, EntityTagger
from assistant.query.followup import history_text, rewrite_followup
from assistant.query.scope import Scope, days_about, question_scope
from assistant.query.spelling import other_spellings
from assistant.retrieval.hybrid import Retriever
from assistant.retrieval.nodes import NewsRetriever, QuestionRetriever, search
from assistant.text import content_terms


def lexical_folder(settings: Settings) -> Path:
    """Where the BM25 side index of this store lives (always local, also in server mode)."""
    where = settings.chroma_url or "embedded"
    tag = hashlib.sha256(f"{where}|{settings.collection}".encode()).hexdigest()[:10]
    return settings.index_dir / "lexical" / f"{settings.collection}-{tag}"


class Runtime:
    """The parts of a running assistant, each built on first use from ``settings`` unless
    it is handed in (tests and the eval pass real parts they already hold: a loaded
    embedding model, the store of another runtime)."""

    def __init__(self, settings: Settings, store: Store, *, embedder: Embedder | None = None,
                 reader: ReadingModel | None = None, tagger: EntityTagger | None = None,
                 retriever: Retriever | None = None,
                 extractive: ExtractiveAnswerer | None = None,
                 generative: GenerativeAnswerer | None = None) -> None:
        self.settings = settings
        self.store = store
        self._embedder = embedder
        self._reader = reader
        self._tagger = tagger
        self._retriever = retriever
        self._extractive = extractive
        self._generative = generative
        self._sources_of: tuple[str, list[str]] | None = None  # (generation, outlets)
        self._kept = KeptState(
            lexical_folder(settings),
            None if settings.chroma_url else settings.index_dir / "chroma.sqlite3",
            collection=settings.collection, embed_model=settings.embed_model)
        self._lock = threading.RLock()
        self._ingest_lock = threading.Lock()

    @classmethod
    def open(cls, settings: Settings, *, embedder: Embedder | None = None,
             reader: ReadingModel | None = None) -> Runtime:
        """The runtime over the settings' store (and models already loaded, if given)."""
        return cls(settings, Store.from_settings(settings), embedder=embedder, reader=reader)

    @property
    def embedder(self) -> Embedder:
        # Loading the model takes about a second; commands that never embed never pay it.
        with self._lock:
            if self._embedder is None:
                self._embedder = make_embedder(self.settings)
            return self._embedder

    @property
    def sentence_embedder(self) -> Embedder:
        """The embedder an answer's sentences are embedded with: the local model one
        sentence at a time (``LocalEmbedder.one_at_a_time``), an endpoint as it is."""
        embedder = self.embedder
        return embedder.one_at_a_time() if isinstance(embedder, LocalEmbedder) else embedder

    @property
    def retriever(self) -> Retriever:
        with self._lock:
            if self._retriever is None:
                lexical = SideIndex(lexical_folder(self.settings))
                self._retriever = Retriever(self.store, self.embedder, lexical)
            return self._retriever

    @property
    def tagger(self) -> EntityTagger:
        with self._lock:
            if self._tagger is None:
                self._tagger = EntityTagger.load()
            return self._tagger

    @property
    def reader(self) -> ReadingModel:
        with self._lock:
            if self._reader is None:
                self._reader = ReadingModel.from_settings(self.settings)
            return self._reader

    @property
    def extractive(self) -> ExtractiveAnswerer:
        with self._lock:
            if self._extractive is None:
                self._extractive = self.extractive_answerer()
            return self._extractive

    def extractive_answerer(self, tuning: ExtractiveTuning | None = None,
                            combination: Combination | None = None) -> ExtractiveAnswerer:
        """An extractive answerer over this runtime's parts (with other settings or fitted
        weights, for the tuning scripts: ``Runtime(..., extractive=...)``)."""
        tagger = self.tagger if tuning is None or tuning.kind_tagged else None
        return ExtractiveAnswerer(
            self.sentence_embedder, self.reader, combination or Combination.load(), tuning,
            tagger=tagger, corpus=self.retriever.lexical)

    def ingest(self, paths: Sequence[str | Path], prune: bool = False,
               progress: bool = False, dry_run: bool = False,
               on_wait: Callable[[str], None] | None = None) -> IngestReport:
        # One writer at a time per store: two uploads of the same article must not both
        # decide it is new, and two processes on one embedded Chroma store are not safe
        # (Chroma issue #3792). A second writer waits; ``on_wait`` is told why.
        with self._ingest_lock, self._writer_lock(on_wait):
            self.store.ensure_copy_bands(_bands_of)
            copies = NearDuplicates(self._sharing_bands, self.store.article_texts)
            return ingest(paths, self.store, self.embedder, self.settings, prune=prune,
                          progress=progress, find_duplicate=copies.check,
                          on_write=self._follow, dry_run=dry_run)

    def remove(self, article_id: str) -> None:
        """Takes an article out of the store and the side index."""
        with self._ingest_lock, self._writer_lock(None):
            remove_article(self.store, article_id, self._follow)

    def _writer_lock(self, on_wait: Callable[[str], None] | None
                     ) -> AbstractContextManager[None]:
        return self._kept.writing(self.store.state, on_wait)

    def _state(self) -> tuple[str, bool]:
        """``Store.state``, kept beside the side index while the store is unchanged: a fresh
        process need not open Chroma to learn it."""
        return self._kept.state(self.store.state)

    def _catch_up(self, generation: str) -> None:
        """Brings the side index to the store's generation, unless this process is writing:
        then its writer applies each batch as it commits, and a question must not wait on
        the writer's lock or compare the whole store meanwhile."""
        if not self._ingest_lock.locked():
            self.retriever.refresh(generation)

    def _follow(self, rows: list[ChunkRow], gone: list[str], before: str, after: str,
                change: RegistryChange) -> None:
        self.retriever.lexical.follow(self.store, rows, gone, before, after, change)

    def _sharing_bands(self, keys: list[str]) -> list[tuple[str, str | None, str]]:
        return [(r.id, r.date, r.minhash) for r in self.store.sharing_bands(keys)]

    @property
    def generative(self) -> GenerativeAnswerer:
        with self._lock:
            if self._generative is None:
                chat = ChatModel.from_settings(self.settings)
                s = self.settings
                # A model of ours on this machine's CPU reads a prompt at ~90 tokens a
                # second: it reads the reader's best sentences, not the five chunks
                # (docs/llm.md). A served model reads the chunks.
                local = served_here(s.llm_model, s.openai_base_url) is not None
                self._generative = GenerativeAnswerer(
                    chat, self.embedder, names=self.tagger,
                    sentences=LOCAL_MODEL_SENTENCES if local else 0)
            return self._generative

    def _retrieve(self, question: str, top_k: int | None, filters: Filters | None,
                  generation: str, favoured: tuple[str, str] | None = None,
                  settled: bool = False) -> tuple[np.ndarray, list[Hit]]:
        k = top_k or self.settings.top_k
        self._catch_up(generation)
        query_vector = self.embedder.embed([question])[0]
        # Through llama-index's retriever interface, as a llama-index user's engine would.
        retriever = NewsRetriever(self.retriever, k, filters, favoured, generation, settled)
        return query_vector, search(retriever, question, query_vector)

    def as_retriever(self, top_k: int | None = None, filters: Filters | None = None,
                     today: date | None = None) -> QuestionRetriever:
        """The assistant's retrieval as a llama-index retriever, for a llama-index user's
        own query or chat engine: each question read for its dates and outlets (against
        ``today``), searched as the assistant searches it."""

        def search_question(question: str) -> list[Hit]:
            generation, writing = self._state()
            scope = self.scope(question, filters, today, generation)
            return self._retrieve(scope.topic, top_k, scope.filters, generation,
                                  self.days_about(scope, today), settled=not writing)[1]

        return QuestionRetriever(search_question)

    def quote_answers(self, question: str, quote: Hit) -> tuple[float, bool]:
        """The probability that ``quote`` answers ``question`` and whether it clears the
        bar, as our own citations are marked (``ExtractiveAnswerer.quote_support``): the
        peers' quotes are judged by it, so that "supported" means one thing in every column
        of the eval."""
        return self.extractive.quote_support(question, self.embedder.embed([question])[0],
                                             quote)

    def _absent(self, question: str) -> list[str]:
        """The question's words that no chunk of the store holds (as written), leaving out
        words that only name the kind of answer ("city") and words the lexical index cannot
        hold (contractions)."""
        spelled = content_terms(question)
        # A British spelling asked of American reports ("personalised", "personalized") is
        # not a word the store lacks.
        variants = {w: other_spellings(w) for w in spelled.values()}
        df, total = self.retriever.lexical.document_frequency(
            list(dict.fromkeys([*spelled.values(), *(v for vs in variants.values() for v in vs)])))
        if not total:
            return []
        return [word for stem, word in spelled.items()
                if not any(df.get(w, 0) for w in [word, *variants[word]])
                and re.fullmatch(r"\w{2,}", stem)
                and word not in KIND_WORDS and word.rstrip("s") not in KIND_WORDS]

    def standalone(self, question: str, history: Sequence[tuple[str, str]]) -> str:
        """The question rewritten with the chat history (pairs of standalone question and
        answer text) so that it can be retrieved on its own."""
        if not history:
            return question
        if self.settings.answer_mode == "openai":
            prompt = render("condense", history=history_text(history), message=question)
            rewritten = self.generative.chat.complete([("user", prompt)]).strip().strip('"')
            if rewritten:
                return rewritten.splitlines()[0]
        return rewrite_followup(question, [q for q, _ in history])

    def _sources(self, generation: str) -> list[str]:
        """The outlets of the store (from the side index), re-read when the store changes."""
        cached = self._sources_of
        if cached is None or cached[0] != generation:
            self._catch_up(generation)
            cached = (generation, self.retriever.lexical.sources())
            self._sources_of = cached
        return cached[1]

    def scope(self, question: str, filters: Filters | None, today: date | None = None,
              generation: str | None = None) -> Scope:
        """Explicit filters, completed by what the question says (dates, outlet, "latest",
        "this week" read against ``today``), and the question's topic without those
        phrases."""
        sources = self._sources(generation or self._state()[0])
        said = question_scope(question, sources, today)
        given = filters or Filters()
        merged = Filters(since=given.since or said.filters.since,
                         until=given.until or said.filters.until,
                         sources=given.sources or said.filters.sources)
        return replace(said, filters=merged, topic=said.topic or question)

    def days_about(self, scope: Scope, today: date | None) -> tuple[str, str] | None:
        """The ISO days a question is about, whose reports retrieval favours: those it names
        ("this week", "in 2018"), else, as a news question that names no time asks about now,
        the asker's last fortnight (``ExtractiveAnswerer.asked_days``: the reader favours the
        same days). Favouring them in retrieval too brought the source of two more news dev
        questions into the first five articles (docs/tuning.md, eighteenth round); a store
        that holds no report of those days ranks as before."""
        with self._lock:  # the answerer's setting, without building one (a model load)
            answerer = self._extractive
        tuning = answerer.tuning if answerer is not None else ExtractiveTuning()
        return days_about(scope.favoured, today or date.today(), tuning.asker_days)

    def ask_stream(self, question: str, top_k: int | None = None,
                   filters: Filters | None = None,
                   history: Sequence[tuple[str, str]] = (),
                   today: date | None = None) -> Iterator[str | Answer]:
        """Text deltas as the answer is written (openai mode), then the verified ``Answer``.
        ``today``: the asker's day, which "this week" and "yesterday" are read against
        (default: the machine's date)."""
        started = time.perf_counter()
        asked = question
        question = self.standalone(question, history)
        # One look at the store's state per question.
        generation, writing = self._state()
        scope = self.scope(question, filters, today, generation)
        filters, prefer_recent, topic = scope.filters, scope.prefer_recent, scope.topic
        query_vector, hits = self._retrieve(topic, top_k, filters, generation,
                                            self.days_about(scope, today), settled=not writing)
        retrieved = time.perf_counter()

        def extractive() -> Answer:
            return self.extractive.answer(topic, query_vector, hits, prefer_recent,
                                          absent=self._absent(topic), favoured=scope.favoured,
                                          today=today or date.today())

        if not hits and filters.active:
            # Nothing inside the asked-for window: say so rather than answer from outside it.
            answer = Answer(question=question, answer=_empty_window(filters), abstained=True,
                            mode=self.settings.answer_mode)
        elif not hits:
            # Every ranking returns something from a store that holds chunks: none at all
            # means nothing has been ingested, which "the articles don't say" would hide.
            answer = Answer(question=question, answer=EMPTY_STORE_TEXT, abstained=True,
                            mode=self.settings.answer_mode)
        elif self.settings.answer_mode == "openai":
            # The reader decides whether the articles answer the question at all; the model
            # is asked only when they do. A model given passages writes true sentences
            # about them whatever was asked: on the news dev set it answered 20 of the 74
            # unanswerable questions, the reader 2 (docs/llm.md).
            read = extractive()
            if read.abstained:
                answer = replace(read, mode=self.settings.answer_mode,
                                 notes=[*read.notes, READER_ABSTAINED_NOTE])
            else:
                answerer = self.generative
                sources = (self.extractive.passages(topic, query_vector, hits,
                                                    scope.favoured, today or date.today(),
                                                    answerer.sentences)
                           if answerer.sentences else []) or hits
                raw: list[str] = []
                yield from answerer.stream(question, sources, raw)
                answer = replace(answerer.finish(question, sources, "".join(raw),
                                                 fallback=lambda: read), retrieved=hits)
        else:
            answer = extractive()
        done = time.perf_counter()
        # The answerers know the standalone question only; what was asked, where else the
        # cited articles ran and the timings are the runtime's to add, once.
        yield replace(answer, question=asked, standalone_question=question,
                      copies=self._copies(answer, None if writing else generation),
                      timings_ms={"retrieve": (retrieved - started) * 1000,
                                  "generate": (done - retrieved) * 1000,
                                  "total": (done - started) * 1000})

    def _copies(self, answer: Answer, settled_at: str | None) -> dict[str, list[str]]:
        """For each cited article, where else it was published (syndicated copies). The
        side index's copy of the registry at a settled generation says which have any, so
        that the store is asked only for those."""
        cited = sorted({c.article_id for c in answer.citations})
        copied = self.retriever.lexical.copied(cited, settled_at) if settled_at else None
        if copied is not None:
            cited = sorted(copied)
        if not cited:
            return {}
        out: dict[str, list[str]] = {}
        for r in self.store.copies_of(cited):
            if r.duplicate_of:  # always, by the query: it says so to the type checker
                out.setdefault(r.duplicate_of, []).append(
                    f"{r.source or r.title} ({r.date or 'undated'}, {r.id})")
        return out

    def ask(self, question: str, top_k: int | None = None, filters: Filters | None = None,
            history: Sequence[tuple[str, str]] = (), today: date | None = None) -> Answer:
        for event in self.ask_stream(question, top_k, filters, history, today):
            if isinstance(event, Answer):
                return event
        raise AssertionError("ask_stream always ends with an Answer")  # pragma: no cover


def _bands_of(encoded: str) -> list[str]:
    return NearDuplicates.bands(NearDuplicates.decode(encoded))


READER_ABSTAINED_NOTE = ("The reader found no passage that answers the question, so the "
                         "language model was not asked.")
EMPTY_STORE_TEXT = ("No articles have been ingested yet, so there is nothing to answer from: "
                    "add some (`assistant ingest PATH`, or the app's upload) and ask again.")


def _empty_window(filters: Filters) -> str:
    parts = []
    if filters.since and filters.until:
        parts.append(f"dated {filters.since} to {filters.until}")
    elif filters.since:
        parts.append(f"dated on or after {filters.since}")
    elif filters.until:
        parts.append(f"dated on or before {filters.until}")
    if filters.sources:
        parts.append("from " + " or ".join(filters.sources))
    return ("The articles don't say: no ingested article " + " and ".join(parts)
            + " matches this question.")
