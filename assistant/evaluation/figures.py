"""The shapes of the figures an evaluation produces (``scoring.metrics``), which reports,
the CLI and the JSON files under ``docs/eval/`` share.

Keys with an "@" ("hit@5") are written in TypedDict's functional form. The headline rows
of a report are named by accessors, not by (group, key) strings, so that a typo fails the
type check instead of a report.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NotRequired, TypedDict

RetrievalFigures = TypedDict("RetrievalFigures", {
    "hit@1": float | None, "hit@5": float | None, "mrr": float | None,
    "evidence_recall": float | None})


class AnswerFigures(TypedDict):
    fact_recall: float | None
    fully_correct: float | None


class CitationFigures(TypedDict):
    precision: float | None
    supported: float | None


class AbstentionFigures(TypedDict):
    accuracy: float | None
    false_abstain: float | None
    false_answer: float | None


class Latency(TypedDict):
    p50: float
    p95: float


class FixtureRow(TypedDict):
    id: str
    hit_rank: int | None
    fact_recall: float | None
    abstained: bool
    ok: bool
    faithfulness: NotRequired[float]
    correctness: NotRequired[float]


class ModelFigures(TypedDict):
    """What the check did to a language model's answers."""

    sentences_left_out: float | None
    fallback: float | None
    own_answers: int
    own_fact_recall: float | None


class CalibrationRow(TypedDict):
    at: float
    answered: int
    precision: float | None
    recall: float | None
    false_answer: float | None


class JudgedFigures(TypedDict):
    faithfulness: float | None
    correctness: float | None


AgeSlice = TypedDict("AgeSlice", {
    "n": int, "hit@5": float | None, "fact_recall": float | None,
    "false_abstain": float | None})


class Metrics(TypedDict):
    """One run's figures on one fixture set."""

    n: int
    retrieval: RetrievalFigures
    answer: AnswerFigures
    citations: CitationFigures
    abstention: AbstentionFigures
    latency_ms: Latency
    per_fixture: list[FixtureRow]
    model: NotRequired[ModelFigures]
    calibration: NotRequired[list[CalibrationRow]]
    judged: NotRequired[JudgedFigures]
    by_source_age: NotRequired[dict[str, AgeSlice]]


Headline = tuple[str, Callable[[Metrics], float | None]]

# The rows a report leads with, each higher-is-better.
HEADLINE: list[Headline] = [
    ("retrieval.hit@1", lambda m: m["retrieval"]["hit@1"]),
    ("retrieval.hit@5", lambda m: m["retrieval"]["hit@5"]),
    ("retrieval.mrr", lambda m: m["retrieval"]["mrr"]),
    ("retrieval.evidence_recall", lambda m: m["retrieval"]["evidence_recall"]),
    ("answer.fact_recall", lambda m: m["answer"]["fact_recall"]),
    ("answer.fully_correct", lambda m: m["answer"]["fully_correct"]),
    ("citations.precision", lambda m: m["citations"]["precision"]),
    ("citations.supported", lambda m: m["citations"]["supported"]),
    ("abstention.accuracy", lambda m: m["abstention"]["accuracy"]),
]

# Lower is better for these two: what abstention accuracy hides, each side of it.
ERRORS: list[Headline] = [
    ("abstention.false_answer", lambda m: m["abstention"]["false_answer"]),
    ("abstention.false_abstain", lambda m: m["abstention"]["false_abstain"]),
]

MODEL_ROWS: list[Headline] = [
    ("model: facts in its own checked sentences",
     lambda m: m["model"]["own_fact_recall"] if "model" in m else None),
    ("model: sentences left out as unsupported",
     lambda m: m["model"]["sentences_left_out"] if "model" in m else None),
    ("model: answers replaced by extractive",
     lambda m: m["model"]["fallback"] if "model" in m else None),
]

AGE_ROWS: list[tuple[str, Callable[[AgeSlice], float | None]]] = [
    ("hit@5", lambda s: s["hit@5"]),
    ("fact_recall", lambda s: s["fact_recall"]),
    ("false_abstain", lambda s: s["false_abstain"]),
]


# ---------------------------------------------------------------- ``assistant bench``


class Percentiles(TypedDict):
    p50: float
    p95: float


class LatencyFigures(TypedDict):
    embed_query_ms: Percentiles
    retrieve_ms: Percentiles
    answer_ms: Percentiles


class OneArticle(TypedDict):
    wall_s: float
    outside_embedding_s: float


class Serving(TypedDict):
    """A fresh serving process (``bench.serving_process``)."""

    first_answer_s: float
    first_answer_runs_s: NotRequired[list[float]]
    rss_mb: float
    rss_anon_mb: NotRequired[float]
    rss_file_mb: NotRequired[float]
    peak_rss_mb: NotRequired[float]
    index_caught_up: NotRequired[bool]


class ScaleRow(TypedDict):
    chunks: int
    unfiltered: LatencyFigures
    filter_narrow: LatencyFigures
    filter_half: LatencyFigures
    ingest_one_article: NotRequired[OneArticle]
    serving: NotRequired[Serving]


class BenchResult(TypedDict):
    chunks: int
    articles: int
    raw_embed_chunks_per_s: float
    raw_embed_chunks_per_s_1_thread: float
    ingest_chunks_per_s: float
    ratio: float
    stock_ingest_chunks_per_s: float
    stock_chunks: int
    ingest_articles_per_s: float
    stock_ingest_articles_per_s: float
    retrieve_ms: Percentiles | None
    answer_ms: Percentiles | None
    at_chunks: int | None
    scales: dict[str, ScaleRow]
    cold_start_s: float
    peak_rss_mb: float
    notes: list[str]
