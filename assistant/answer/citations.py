"""Citations you can check: from "[n] after a claim" to an exact quote, and a verdict on it.

A generative model cites whole sources (chunks). For each cited claim we find the sentence,
or pair of adjacent sentences, of that chunk that best supports the claim, and make that span
of the stored article text the quote. ``supported`` is then decided from how much of the
claim's content the quote holds (lexical) and how close the two are in meaning (embedding).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from assistant.answer.model import Citation
from assistant.answer.reports import figure_mentions, unstated_figures
from assistant.index.embedding import Embedder
from assistant.index.records import Hit
from assistant.ingest.chunking import split_sentences
from assistant.text import content_stems, coverage, stems

# "[1]", "[1, 3]", "[1][3]", "[Source 2]": the ways models write a citation.
_MARK = r"\[\s*(?:sources?\s*)?\d+(?:\s*[,;]\s*(?:sources?\s*)?\d+)*\s*\]"
_MARKER_GROUP = re.compile(rf"\s*(?:{_MARK})+", re.IGNORECASE)
# Markers written after the full stop ("X. [1]", "X.[1]") belong to the sentence before it.
_AFTER_STOP = re.compile(rf"([.!?])([\"'”’)]*)[ \t]*((?:[ \t]*{_MARK})+)", re.IGNORECASE)
_NUMBER = re.compile(r"\d+")
# Text a model copies from its prompt or its chat template, which is never the answer.
_MARKUP = re.compile(  # multiline: a tag cut off at a line's end is still markup
    r"</?\s*sources?\b[^>\n]*(?:>|$)"  # our own source delimiters, echoed (or cut off)
    r"|<\|[^|>\n]{1,40}\|>"  # <|im_end|>, <|eot_id|>
    r"|</?(?:start_of_turn|end_of_turn|eos|bos|pad|unk|s)>"  # Gemma, Llama tokens
    r"|\[/?INST\]|<<\s*/?SYS\s*>>", re.IGNORECASE | re.MULTILINE)
_ECHOED_LINE = re.compile(r"^\s*(?:question|rules?|sources?)\s*:.*$", re.IGNORECASE | re.MULTILINE)
_ANSWER_LABEL = re.compile(r"^\s*(?:answer|model|assistant)\s*:\s*", re.IGNORECASE | re.MULTILINE)
# A list item's number or bullet at a line's start: layout, not a figure the answer states.
_LIST_MARK = re.compile(r"^\s*(?:\d{1,2}[.)]|[-*•])\s+", re.MULTILINE)
# Weights and bar of the support check, measured on the dev fixtures (docs/tuning.md).
SUPPORT_LEXICAL = 0.5
SUPPORT_SEMANTIC = 0.5
SUPPORTED_AT = 0.5
class NameChecker(Protocol):
    """What the support check needs from the entity tagger (``entities.EntityTagger``)."""

    def names_differ(self, a: str, b: str) -> str | None: ...


def clean_model_text(text: str) -> str:
    """The model's answer without the prompt markup, template tokens and echoed prompt lines
    it sometimes writes around it."""
    text = _MARKUP.sub(" ", text)
    text = _ECHOED_LINE.sub("", text)
    text = _ANSWER_LABEL.sub("", text)
    text = _LIST_MARK.sub("", text)
    return "\n".join(" ".join(line.split()) for line in text.strip().splitlines()).strip()


@dataclass
class Claim:
    text: str  # the sentence without its markers
    sources: list[int]  # cited source numbers (1-based), in order, unique


def split_claims(answer: str) -> list[Claim]:
    """The answer's sentences with the source numbers cited for each, however the model
    punctuates: "X [1]. Y [2].", "X. [1] Y. [2]" and "X.[1] Y.[2]" all cite [1] for X."""
    answer = _AFTER_STOP.sub(lambda m: f" {m.group(3).strip()}{m.group(1)}{m.group(2)}",
                             answer)
    claims: list[Claim] = []
    for s, e in split_sentences(answer):
        sentence = answer[s:e]
        numbers: list[int] = []
        for group in _MARKER_GROUP.finditer(sentence):
            for n in _NUMBER.findall(group.group()):
                if int(n) not in numbers:
                    numbers.append(int(n))
        text = " ".join(_MARKER_GROUP.sub("", sentence).split())
        text = re.sub(r"\s+([.,;:!?])", r"\1", text)
        if not re.search(r"\w", text):
            if claims:  # markers standing alone belong to the sentence before them
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
    """The (start, end) in article offsets of the chunk span that best supports ``claim``;
    a span that states all the claim's figures beats one that does not."""
    spans = list(hit.sentence_spans())
    if not spans:
        return hit.start, hit.end, 0.0
    # Single sentences and adjacent pairs: a claim may join two sentences of the source.
    options = list(spans) + [(spans[i][0], spans[i + 1][1]) for i in range(len(spans) - 1)]
    vecs = embedder.embed([hit.text[s:e] for s, e in options])
    best: tuple[bool, float, int, int, float] | None = None
    for (s, e), vec in zip(options, vecs, strict=True):
        score = support_score(claim, hit.text[s:e], claim_vec, vec, hit.text)
        rank = score + (0.02 if (s, e) in spans else 0.0)  # the tighter quote on a tie
        states_figures = not unstated_figures(claim, hit.text[s:e])
        if best is None or (states_figures, rank) > best[:2]:
            best = (states_figures, rank, s, e, score)
    assert best is not None
    _, _, s, e, score = best
    return hit.start + s, hit.start + e, score


@dataclass(kw_only=True)
class CheckedClaim:
    """One sentence of a model's answer after the check: its citations (each with its
    verdict) and, when it is not supported, why."""

    text: str
    citations: list[Citation] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    attributed: bool = False  # it cited nothing; the check found the quote that supports it

    @property
    def supported(self) -> bool:
        return not self.problems and any(c.supported for c in self.citations)


def check_claims(answer_text: str, hits: list[Hit], embedder: Embedder,
                 names: NameChecker | None = None) -> tuple[list[CheckedClaim], list[str]]:
    """Every sentence of ``answer_text`` checked against the sources it cites.

    A citation supports its sentence when the quote holds enough of the sentence's content
    and meaning (``SUPPORTED_AT``) and states no other figure or name for the same fact
    (``reports.unstated_figures``, ``EntityTagger.names_differ``: the rule conflicts use). A
    sentence stating a figure that no source states is unsupported whatever it cites. A
    sentence that cites nothing is given the source whose quote supports it best, when one
    passes the same check (small models often write a right sentence without its marker;
    RAGFlow inserts citations after generation the same way, by similarity alone).
    Returns the claims (citations numbered in order) and notes on citations dropped because
    their source does not exist."""
    notes: list[str] = []
    claims = split_claims(clean_model_text(answer_text))
    all_text = "\n".join(h.text for h in hits)
    seen: set[str] = set()
    vectors = embedder.embed([c.text for c in claims]) if claims else np.zeros((0, 1))
    checked: list[CheckedClaim] = []
    n = 0
    for claim, vec in zip(claims, vectors, strict=True):
        key = " ".join(claim.text.lower().split())
        if key in seen:
            continue  # a model repeating itself says a thing once
        seen.add(key)
        out = CheckedClaim(text=claim.text)
        invented = unstated_figures(claim.text, all_text)
        if invented:
            out.problems.append("states " + ", ".join(f"“{f}”" for f in invented)
                                + ", which no source states")
        for number in claim.sources:
            if not 1 <= number <= len(hits):
                notes.append(f"dropped citation [{number}]: there is no source {number}")
                continue
            n += 1
            citation, _, mismatch = _cite(claim.text, vec, hits[number - 1], embedder, names, n)
            out.citations.append(citation)
            if mismatch:
                out.problems.append(f"its source [{number}] {mismatch}")
        if not claim.sources and not invented:
            found = _attribute(claim.text, vec, hits, embedder, names, n + 1)
            if found is not None:
                n += 1
                out.citations.append(found)
                out.attributed = True
            else:
                out.problems.append("cites no source, and no source supports it")
        elif not claim.sources:
            out.problems.append("cites no source")
        elif not out.citations:
            out.problems.append("cites only sources that do not exist")
        elif out.citations and not any(c.supported for c in out.citations):
            out.problems.append("its citation does not support it")
        checked.append(out)
    return checked, notes


def _cite(claim: str, vec: np.ndarray, hit: Hit, embedder: Embedder,
          names: NameChecker | None, n: int) -> tuple[Citation, float, str | None]:
    """``claim`` cited as [n] to ``hit``'s span that best supports it: the citation with
    its verdict, the unrounded support score, and why the quote contradicts it (or None)."""
    start, end, score = best_span(claim, hit, embedder, vec)
    quote = hit.text[start - hit.start : end - hit.start]
    mismatch = _mismatch(claim, quote, names)
    return Citation(n=n, article_id=hit.article_id, title=hit.title, date=hit.date,
                    source=hit.source, quote=quote, start=start, end=end,
                    supported=score >= SUPPORTED_AT and mismatch is None, url=hit.url,
                    support_score=round(score, 3),
                    verdict="unsupported" if mismatch else ""), score, mismatch


def _attribute(claim: str, vec: np.ndarray, hits: list[Hit], embedder: Embedder,
               names: NameChecker | None, n: int) -> Citation | None:
    """The citation of the source whose best quote supports ``claim``, the best of those
    that pass the check; None when none does."""
    best: tuple[float, Citation] | None = None
    for hit in hits:
        citation, score, _ = _cite(claim, vec, hit, embedder, names, n)
        if citation.supported and (best is None or score > best[0]):
            best = (score, citation)
    return best[1] if best is not None else None


def _mismatch(claim: str, quote: str, names: NameChecker | None) -> str | None:
    figures = [raw for raw, _ in figure_mentions(claim)]
    missing = unstated_figures(claim, quote)
    if figures and missing:
        stated = ", ".join(raw for raw, _ in figure_mentions(quote)) or "no figure"
        return f"says {stated}, not " + ", ".join(f"“{f}”" for f in missing)
    label = names.names_differ(claim, quote) if names else None
    if label:
        return f"names another {_LABEL_WORDS.get(label, 'name')}"
    return None


_LABEL_WORDS = {"PERSON": "person", "ORG": "organisation", "GPE": "place", "LOC": "place",
                "DATE": "date", "FAC": "place", "PRODUCT": "product", "WORK_OF_ART": "title"}


def cite(answer_text: str, hits: list[Hit], embedder: Embedder,
         names: NameChecker | None = None) -> tuple[str, list[Citation], list[str]]:
    """Every sentence with its citations renumbered and checked, nothing left out: how the
    peers' answers are scored. Returns the answer text, its citations, and notes."""
    checked, notes = check_claims(answer_text, hits, embedder, names)
    parts = []
    for index, claim in enumerate(checked, start=1):
        marks = "".join(f"[{c.n}]" for c in claim.citations)
        parts.append(claim.text + (" " + marks if marks else ""))
        notes.extend(f"sentence {index} {p}" for p in claim.problems)
    return " ".join(parts), [c for claim in checked for c in claim.citations], notes
