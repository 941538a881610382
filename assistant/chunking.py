"""Sentence-aware chunks that keep their character offsets into the article text.

A chunk's text is always ``article.text[start:end]``, so any quote found inside a chunk maps
back to the article exactly. Sentences are packed until the embedding model's token budget is
reached; the last ``overlap`` sentences of a chunk open the next one, so a fact that straddles
a boundary is whole in at least one chunk.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from .articles import Article

# Words that end with a period without ending a sentence.
_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "gen", "gov", "sen", "rep", "lt", "col",
    "capt", "sgt", "rev", "hon", "pres", "messrs", "mt", "ft", "no", "nos", "vs", "etc", "inc",
    "ltd", "co", "corp", "bros", "dept", "univ", "est", "approx", "fig", "vol", "ed", "eds",
    "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
    "mon", "tue", "tues", "wed", "thu", "thur", "thurs", "fri", "sat", "sun", "e.g", "i.e",
    "cf", "al", "p", "pp", "ca",
}
_BOUNDARY = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s+[\"'“‘(\[]?[A-Z0-9])|\r?\n[ \t]*\r?\n")


@dataclass(frozen=True)
class Chunk:
    id: str
    article_id: str
    index: int
    start: int
    end: int
    text: str


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans ``(start, end)`` of ``text``, each stripped of surrounding whitespace."""
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _BOUNDARY.finditer(text):
        if m.group().startswith((".", "!", "?")) and not _ends_sentence(text, m.start()):
            continue
        _add_span(text, start, m.end(), spans)
        start = m.end()
    _add_span(text, start, len(text), spans)
    return spans


def _ends_sentence(text: str, dot: int) -> bool:
    if text[dot] != ".":
        return True
    word = re.search(r"[\w.]*\Z", text[max(0, dot - 20) : dot])
    token = word.group() if word else ""
    if token.lower() in _ABBREVIATIONS:
        return False
    if re.fullmatch(r"(?:[A-Za-z]\.)+[A-Za-z]?", token):  # U.S. / U.K. / initials
        return False
    if re.fullmatch(r"[A-Z]", token):  # a middle initial: "John F. Kennedy"
        return False
    return not re.fullmatch(r"\d{1,2}", token)  # list items: "1. Pick good cofounders"


def _add_span(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    piece = text[start:end]
    lead = len(piece) - len(piece.lstrip())
    trail = len(piece) - len(piece.rstrip())
    if end - trail > start + lead:
        spans.append((start + lead, end - trail))


def chunk_article(
    article: Article,
    count_tokens: Callable[[str], int],
    max_tokens: int = 200,
    overlap: int = 0,
) -> list[Chunk]:
    text = article.text
    sentences: list[tuple[int, int, int]] = []  # start, end, tokens
    for s, e in split_sentences(text):
        n = count_tokens(text[s:e])
        if n <= max_tokens:
            sentences.append((s, e, n))
        else:
            sentences.extend(_split_long(text, s, e, count_tokens, max_tokens))
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(sentences):
        j, used = i, 0
        while j < len(sentences) and (j == i or used + sentences[j][2] <= max_tokens):
            used += sentences[j][2]
            j += 1
        spans.append((sentences[i][0], sentences[j - 1][1]))
        if j >= len(sentences):
            break
        # Step back `overlap` sentences, but always move forward.
        i = max(j - overlap, i + 1)
    # The content hash in the id: a new version of an article gets new chunk ids, so it is
    # written beside the old one and the old chunks are removed only after it is committed.
    version = article.content_hash[:12]
    return [
        Chunk(id=f"{article.id}::{version}::{n}", article_id=article.id, index=n, start=s,
              end=e, text=text[s:e])
        for n, (s, e) in enumerate(spans)
    ]


def _split_long(
    text: str, start: int, end: int, count_tokens: Callable[[str], int], max_tokens: int
) -> list[tuple[int, int, int]]:
    """A sentence longer than the budget, cut at word boundaries into pieces that fit."""
    pieces: list[tuple[int, int, int]] = []
    words = [(m.start() + start, m.end() + start) for m in re.finditer(r"\S+", text[start:end])]
    # Wordpieces are close to additive over words, so one count per word is enough.
    counts = [count_tokens(text[s:e]) for s, e in words]
    i = 0
    while i < len(words):
        j, used = i, 0
        while j < len(words) and (j == i or used + counts[j] <= max_tokens):
            used += counts[j]
            j += 1
        pieces.append((words[i][0], words[j - 1][1], used))
        i = j
    return pieces
