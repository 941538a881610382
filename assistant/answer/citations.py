"""Citations you can check: from "[n] after a claim" to an exact quote, and a verdict on it.

A generative model cites whole sources (chunks). For each cited claim we find the sentence,
or pair of adjacent sentences, of that chunk that best supports the claim, and make that span
of the stored article text the quote. ``supported`` is then decided from how much of the
claim's content the quote holds (lexical) and how close the two are in meaning (embedding).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ..chunking import split_sentences
from ..embedding import Embedder
from ..store import Hit
from ..text import content_stems, coverage, stems
from .model import Citation

_MARKER_GROUP = re.compile(r"\s*(?:\[\s*\d+(?:\s*[,;]\s*\d+)*\s*\])+")
_NUMBER = re.compile(r"\d+")
# Weights and bar of the support check, measured on the dev fixtures (docs/tuning.md).
SUPPORT_LEXICAL = 0.5
SUPPORT_SEMANTIC = 0.5
SUPPORTED_AT = 0.5
# Bar for "this quote answers the question" (extractive answers and the peers' quotes),
# measured on the dev sets (docs/tuning.md).
ANSWERS_AT = 0.55


def answer_support(question: str, quote: str, embedder: Embedder,
                   question_vec: np.ndarray | None = None,
                   quote_vec: np.ndarray | None = None, context: str | None = None) -> float:
    """How well a quote answers a question: the share of the question's content words it
    holds and its closeness in meaning, weighted as the claim check weighs them. The same
    function judges our quotes and the peers', so ``supported`` means one thing everywhere."""
    if question_vec is None or quote_vec is None:
        question_vec, quote_vec = embedder.embed([question, quote])
    return support_score(question, quote, question_vec, quote_vec, context)


@dataclass
class Claim:
    text: str  # the sentence without its markers
    sources: list[int]  # cited source numbers (1-based), in order, unique


def split_claims(answer: str) -> list[Claim]:
    """The answer's sentences with the source numbers cited after each."""
    claims: list[Claim] = []
    for s, e in split_sentences(answer):
        sentence = answer[s:e]
        numbers: list[int] = []
        for group in _MARKER_GROUP.finditer(sentence):
            for n in _NUMBER.findall(group.group()):
                if int(n) not in numbers:
                    numbers.append(int(n))
        text = " ".join(_MARKER_GROUP.sub("", sentence).split())
        if not text and claims:  # markers that spilled past the full stop
            claims[-1].sources.extend(n for n in numbers if n not in claims[-1].sources)
            continue
        claims.append(Claim(text, numbers))
    return claims


def support_score(claim: str, quote: str, claim_vec: np.ndarray, quote_vec: np.ndarray,
                  context: str | None = None) -> float:
    """``context``: the passage around the quote; a word of the claim found only there
    counts half ("The two leaders also agreed ..." in a passage that names them)."""
    keys = content_stems(claim)
    around = set(stems(context)) if context else None
    lexical = coverage(keys, set(stems(quote)), None, around,
                       dict.fromkeys(keys, 0.5) if around else None)
    semantic = float(claim_vec @ quote_vec)
    return SUPPORT_LEXICAL * lexical + SUPPORT_SEMANTIC * semantic


def best_span(claim: str, hit: Hit, embedder: Embedder, claim_vec: np.ndarray
              ) -> tuple[int, int, float]:
    """The (start, end) in article offsets of the chunk span that best supports ``claim``."""
    spans = split_sentences(hit.text)
    if not spans:
        return hit.start, hit.end, 0.0
    # Single sentences and adjacent pairs: a claim may join two sentences of the source.
    options = list(spans) + [(spans[i][0], spans[i + 1][1]) for i in range(len(spans) - 1)]
    vecs = embedder.embed([hit.text[s:e] for s, e in options])
    best = (0, 0, -1.0)
    for (s, e), vec in zip(options, vecs, strict=True):
        score = support_score(claim, hit.text[s:e], claim_vec, vec)
        if (s, e) in spans:
            score += 0.02  # prefer the tighter quote when a pair adds nothing
        if score > best[2]:
            best = (s, e, score)
    s, e, score = best
    return hit.start + s, hit.start + e, score


def cite(answer_text: str, hits: list[Hit], embedder: Embedder
         ) -> tuple[str, list[Citation], list[str]]:
    """Renumbers ``[n]`` markers (source numbers) into citations with exact quotes.

    Returns the rewritten answer, its citations, and notes on what was dropped or unsupported.
    """
    claims = split_claims(answer_text)
    notes: list[str] = []
    citations: list[Citation] = []
    vectors = embedder.embed([c.text or "-" for c in claims]) if claims else np.zeros((0, 1))
    parts: list[str] = []
    for index, (claim, vec) in enumerate(zip(claims, vectors, strict=True), start=1):
        marks = []
        for n in claim.sources:
            if not 1 <= n <= len(hits):
                notes.append(f"dropped citation [{n}]: there is no source {n}")
                continue
            hit = hits[n - 1]
            start, end, score = best_span(claim.text, hit, embedder, vec)
            quote = hit.text[start - hit.start : end - hit.start]
            citation = Citation(
                n=len(citations) + 1, article_id=hit.article_id, title=hit.title,
                date=hit.date, source=hit.source, quote=quote, start=start, end=end,
                supported=score >= SUPPORTED_AT, url=hit.url, support_score=round(score, 3),
            )
            citations.append(citation)
            marks.append(f"[{citation.n}]")
            if not citation.supported:
                notes.append(f"sentence {index} is not supported by its citation [{citation.n}]")
        if not marks and claim.text:
            notes.append(f"sentence {index} carries no citation: {claim.text[:80]}")
        parts.append(claim.text + (" " + "".join(marks) if marks else ""))
    return " ".join(p for p in parts if p), citations, notes
