"""Fixtures in, CONTRACT §5 metrics out, through the same path as ``ask``.

Definitions follow CONTRACT §5. Where a share has no fixture to be taken over (no fixture with
a ``quote`` for evidence recall, no unanswerable fixture for false answers), it is null.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from assistant.answer.model import Answer
from assistant.errors import InputError
from assistant.evaluation.figures import AgeSlice, CalibrationRow, FixtureRow, Metrics

if TYPE_CHECKING:
    from llama_index.core.llms import LLM


@dataclass(frozen=True)
class Fixture:
    id: str
    question: str
    answers: list[list[str]] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    answerable: bool = True
    quote: str | None = None
    reference_answer: str | None = None
    asked_on: str | None = None  # ISO date: what "this week" in the question is read against


def load_fixtures(path: Path) -> list[Fixture]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise InputError(f"{path}: {e.strerror or e}") from e
    fixtures = []
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            fixtures.append(Fixture(
                id=str(obj.get("id") or f"line-{lineno}"), question=str(obj["question"]),
                answers=[list(a) for a in obj.get("answers") or []],
                sources=list(obj.get("sources") or []),
                answerable=bool(obj.get("answerable", True)), quote=obj.get("quote"),
                reference_answer=obj.get("reference_answer"),
                asked_on=obj.get("asked_on") or None,
            ))
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise InputError(f"{path}:{lineno}: not a fixture ({e})") from e
    if not fixtures:
        raise InputError(f"{path}: no fixtures")
    return fixtures


def _norm(text: str) -> str:
    return " ".join(text.split()).lower()


def hit_rank(answer: Answer, sources: Sequence[str]) -> int | None:
    """1-based rank of the first source article, articles ranked by first appearance."""
    seen: list[str] = []
    for h in answer.retrieved:
        if h.article_id not in seen:
            seen.append(h.article_id)
    for rank, article in enumerate(seen, start=1):
        if article in sources:
            return rank
    return None


# Typographic quotes are one character with the plain ones: a fixture's "Wendy’s" is
# stated by an answer quoting an article that spells it "Wendy's" (text.words reads them
# alike too).
_PLAIN_QUOTES = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"'})


def _stated_form(text: str) -> str:
    return text.lower().translate(_PLAIN_QUOTES)


def facts_stated(answer: Answer, facts: Sequence[Sequence[str]]) -> float | None:
    if not facts:
        return None
    low = _stated_form(answer.answer) if not answer.abstained else ""
    return sum(any(_stated_form(w) in low for w in fact) for fact in facts) / len(facts)


def evidence_found(answer: Answer, quote: str | None) -> bool | None:
    if not quote:
        return None
    want = _norm(quote)
    return any(want in _norm(h.text) for h in answer.retrieved)


@dataclass
class Outcome:
    fixture: Fixture
    answer: Answer
    rank: int | None
    fact_recall: float | None
    evidence: bool | None
    judged: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        f = self.fixture
        if not f.answerable:
            return self.answer.abstained
        if self.answer.abstained:
            return False
        if self.fact_recall is not None:
            return self.fact_recall == 1.0
        return self.rank is not None and self.rank <= 5


def _mean(values: Sequence[float]) -> float | None:
    return round(float(np.mean(values)), 4) if values else None


def metrics(outcomes: Sequence[Outcome]) -> Metrics:
    answerable = [o for o in outcomes if o.fixture.answerable]
    unanswerable = [o for o in outcomes if not o.fixture.answerable]
    ranks = [o.rank for o in answerable]
    with_facts = [o for o in answerable if o.fact_recall is not None]
    with_quote = [o for o in outcomes if o.evidence is not None]
    cited = [(o, c) for o in answerable for c in o.answer.citations]
    latency = [o.answer.timings_ms.get("total", 0.0) for o in outcomes]
    result: Metrics = {
        "n": len(outcomes),
        "retrieval": {
            "hit@1": _mean([1.0 if r == 1 else 0.0 for r in ranks]),
            "hit@5": _mean([1.0 if r is not None and r <= 5 else 0.0 for r in ranks]),
            "mrr": _mean([1.0 / r if r else 0.0 for r in ranks]),
            "evidence_recall": _mean([1.0 if o.evidence else 0.0 for o in with_quote]),
        },
        "answer": {
            "fact_recall": _mean([o.fact_recall or 0.0 for o in with_facts]),
            "fully_correct": _mean([1.0 if o.fact_recall == 1.0 and not o.answer.abstained
                                    else 0.0 for o in with_facts]),
        },
        "citations": {
            "precision": _mean([1.0 if c.article_id in o.fixture.sources else 0.0
                                for o, c in cited]),
            "supported": _mean([1.0 if c.supported else 0.0 for _, c in cited]),
        },
        "abstention": {
            "accuracy": _mean([1.0 if o.answer.abstained == (not o.fixture.answerable) else 0.0
                               for o in outcomes]),
            "false_abstain": _mean([1.0 if o.answer.abstained else 0.0 for o in answerable]),
            "false_answer": _mean([0.0 if o.answer.abstained else 1.0 for o in unanswerable]),
        },
        "latency_ms": {
            "p50": round(float(np.percentile(latency, 50)), 1) if latency else 0,
            "p95": round(float(np.percentile(latency, 95)), 1) if latency else 0,
        },
        "per_fixture": [_row(o) for o in outcomes],
    }
    model = [o for o in outcomes if o.answer.mode == "openai"]
    if model:
        # What the check did to a model's answers: sentences left out as unsupported, and
        # answers where nothing checked remained and the extractive answer stood in.
        shown = sum(len(o.answer.citations) > 0 and o.answer.fallback is None for o in model)
        kept = sum(_sentences(o.answer) for o in model if o.answer.fallback is None)
        dropped = sum(len(o.answer.left_out) for o in model)
        result["model"] = {
            "sentences_left_out": round(dropped / (kept + dropped), 4) if kept + dropped
            else None,
            "fallback": _mean([1.0 if o.answer.fallback else 0.0 for o in model]),
            "own_answers": shown,
            "own_fact_recall": _mean([o.fact_recall or 0.0 if o.answer.fallback is None
                                      else 0.0 for o in model if o.fact_recall is not None]),
        }
    if any(o.answer.confidence is not None for o in outcomes):
        result["calibration"] = calibration(outcomes)
    judged = [o.judged for o in outcomes if o.judged]
    if judged:
        result["judged"] = {
            "faithfulness": _mean([j["faithfulness"] for j in judged if "faithfulness" in j]),
            "correctness": _mean([j["correctness"] for j in judged if "correctness" in j])}
    return result


def _row(o: Outcome) -> FixtureRow:
    row: FixtureRow = {"id": o.fixture.id, "hit_rank": o.rank, "fact_recall": o.fact_recall,
                       "abstained": o.answer.abstained, "ok": o.ok}
    if "faithfulness" in o.judged:
        row["faithfulness"] = o.judged["faithfulness"]
    if "correctness" in o.judged:
        row["correctness"] = o.judged["correctness"]
    return row


CALIBRATION_AT = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def _right(o: Outcome) -> bool:
    """An answer that says something right: a fact of the fixture, or (a fixture without
    facts) a citation of one of its sources."""
    if not o.fixture.answerable or o.answer.abstained:
        return False
    if o.fact_recall is not None:
        return o.fact_recall > 0
    return any(c.article_id in o.fixture.sources for c in o.answer.citations)


def calibration(outcomes: Sequence[Outcome], at: Sequence[float] = CALIBRATION_AT
                ) -> list[CalibrationRow]:
    """For each score t: the answers whose confidence reaches t (abstentions never count),
    their precision (share right), recall (right ones over the answerable questions) and
    the share of unanswerable questions answered. The product answers at its own threshold;
    a t below it reads as that threshold."""
    answerable = sum(o.fixture.answerable for o in outcomes)
    unanswerable = len(outcomes) - answerable
    rows: list[CalibrationRow] = []
    for t in at:
        answered = [o for o in outcomes if not o.answer.abstained
                    and (o.answer.confidence or 0.0) >= t]
        right = sum(_right(o) for o in answered)
        false = sum(not o.fixture.answerable for o in answered)
        rows.append({"at": t, "answered": len(answered),
                     "precision": round(right / len(answered), 4) if answered else None,
                     "recall": round(right / answerable, 4) if answerable else None,
                     "false_answer": round(false / unanswerable, 4) if unanswerable else None})
    return rows


CURRENT_DAYS = 14  # a source this many days before the asker's day reports "this week"


def by_source_age(outcomes: Sequence[Outcome], source_dates: Mapping[str, str | None],
                  days: int = CURRENT_DAYS) -> dict[str, AgeSlice] | None:
    """The answerable fixtures with an ``asked_on``, split by their newest source's date:
    "current" when one source is dated within ``days`` before the asker's day (the week's
    own report is in the store), "older" when every dated source is older (the store holds
    only an earlier article that happens to contain the answer). News questions are judged
    on the first kind; the second shows how much of a shortfall is the store's. None when
    no fixture has both."""
    groups: dict[str, list[Outcome]] = {"current": [], "older": []}
    for o in outcomes:
        f = o.fixture
        dated = [d for d in (source_dates.get(s) for s in f.sources) if d]
        if not f.answerable or not f.asked_on or not dated:
            continue
        asked = date.fromisoformat(f.asked_on)
        newest = max(date.fromisoformat(d[:10]) for d in dated)
        current = asked - timedelta(days=days) <= newest <= asked + timedelta(days=1)
        groups["current" if current else "older"].append(o)
    if not any(groups.values()):
        return None
    out: dict[str, AgeSlice] = {}
    for name, group in groups.items():
        m = metrics(group)  # the same definitions as the whole set's
        out[name] = {"n": m["n"], "hit@5": m["retrieval"]["hit@5"],
                     "fact_recall": m["answer"]["fact_recall"],
                     "false_abstain": m["abstention"]["false_abstain"]}
    return out


def _sentences(answer: Answer) -> int:
    return len(re.findall(r"[.!?](?:\s*\[\d+\])+", answer.answer)) if not answer.abstained else 0


def run(fixtures: Sequence[Fixture], ask: Callable[[Fixture], Answer], progress: bool = False,
        label: str = "eval", judge: Callable[[Fixture, Answer], dict[str, float]] | None = None
        ) -> list[Outcome]:
    from tqdm import tqdm

    outcomes = []
    for fixture in tqdm(fixtures, desc=label, unit="question", file=sys.stderr,
                        disable=not progress, dynamic_ncols=True):
        answer = ask(fixture)
        outcome = Outcome(fixture, answer, hit_rank(answer, fixture.sources),
                          facts_stated(answer, fixture.answers) if fixture.answerable else None,
                          evidence_found(answer, fixture.quote))
        if judge is not None and not answer.abstained:
            outcome.judged = judge(fixture, answer)
        outcomes.append(outcome)
    return outcomes


def llm_judge(llm: LLM) -> Callable[[Fixture, Answer], dict[str, float]]:
    """Faithfulness and correctness as llama-index's evaluators define them."""
    from llama_index.core.evaluation import CorrectnessEvaluator, FaithfulnessEvaluator

    faithfulness = FaithfulnessEvaluator(llm=llm)
    correctness = CorrectnessEvaluator(llm=llm)

    def judge(fixture: Fixture, answer: Answer) -> dict[str, float]:
        contexts = [h.text for h in answer.retrieved]
        plain = re.sub(r"\s*\[\d+\]", "", answer.answer)
        scores: dict[str, float] = {}
        # A judge model that answers off-format makes llama-index raise; that fixture then
        # simply has no judged score.
        try:
            f = faithfulness.evaluate(query=fixture.question, response=plain, contexts=contexts)
            scores["faithfulness"] = float(f.score or 0.0)
        except Exception:
            pass
        reference = fixture.reference_answer or "; ".join(a[0] for a in fixture.answers if a)
        if reference:
            try:
                c = correctness.evaluate(query=fixture.question, response=plain,
                                         reference=reference)
                scores["correctness"] = float(c.score or 0.0) / 5.0  # its scale is 1 to 5
            except Exception:
                pass
        return scores

    return judge
