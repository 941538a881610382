"""Sentence-aware chunks that keep their character offsets into the article text.

A chunk's text is always ``article.text[start:end]``, so any quote found inside a chunk maps
back to the article exactly. Sentences are packed until the embedding model's token budget is
reached; the last ``overlap`` sentences of a chunk open the next one, so a fact that straddles
a boundary is whole in at least one chunk.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from assistant.ingest.articles import Article

if TYPE_CHECKING:
    from nltk.tokenize.punkt import PunktTokenizer

# Paragraph breaks end a sentence whatever precedes them (headings have no full stop).
_PARAGRAPH = re.compile(r"\r?\n[ \t]*\r?\n")
# Breaks Punkt makes that a reader would not: before a lowercase word ("on Sat. and Sun."),
# after a bare list number ("1." on its own), and inside "No. 1".
_LIST_MARKER = re.compile(r"\(?\d{1,2}[.)]")
_CLOSERS = re.compile(r"(?:[)\]”’]|\[\d{1,3}\])+")
_QUOTES = re.compile('"+')
_NUMBER_ABBREVIATION = re.compile(r"\b(?:No|Nos|Vol|Fig|Art|pp?)\.\Z")


@dataclass(frozen=True)
class Chunk:
    id: str
    article_id: str
    index: int
    start: int
    end: int
    text: str


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans ``(start, end)`` of ``text``, each stripped of surrounding whitespace.

    NLTK's Punkt with its trained English model decides the sentence ends (abbreviations,
    initials, decimals, quotes); the model ships inside llama-index-core, so nothing is
    downloaded. Paragraph breaks always end a sentence.
    """
    punkt = _punkt()
    spans: list[tuple[int, int]] = []
    start = 0
    for m in [*_PARAGRAPH.finditer(text), None]:
        end = m.start() if m else len(text)
        paragraph = text[start:end]
        pieces: list[tuple[int, int]] = []
        for s, e in punkt.span_tokenize(paragraph):
            if pieces and s == pieces[-1][1]:
                # Glued to the sentence before it (".)But", ".[8] Founders"): a closing
                # bracket or a footnote mark ends that sentence, not this one.
                glued = _CLOSERS.match(paragraph, s) or _closing_quote(paragraph, pieces[-1], s)
                if glued:
                    pieces[-1] = (pieces[-1][0], glued.end())
                    s = glued.end()
                    if not paragraph[s:e].strip():
                        continue
            if pieces and _continues(paragraph, pieces[-1], s):
                pieces[-1] = (pieces[-1][0], e)
            else:
                pieces.append((s, e))
        for s, e in pieces:
            _add_span(text, start + s, start + e, spans)
        start = m.end() if m else len(text)
    return spans


def _closing_quote(paragraph: str, previous: tuple[int, int], start: int
                   ) -> re.Match[str] | None:
    """A straight double quote glued after a full stop closes the sentence before it only
    when that sentence left one open (`box."By` closes; `profitable."Ramen` opens)."""
    if paragraph[previous[0] : previous[1]].count('"') % 2 == 0:
        return None
    return _QUOTES.match(paragraph, start)


def _continues(paragraph: str, previous: tuple[int, int], start: int) -> bool:
    before = paragraph[previous[0] : previous[1]]
    first = paragraph[start : start + 1]
    return (first.islower() or _LIST_MARKER.fullmatch(before) is not None
            or (first.isdigit() and _NUMBER_ABBREVIATION.search(before) is not None))


@functools.cache
def _punkt() -> PunktTokenizer:
    # Imported here: NLTK's package imports SciPy's statistics (about 0.9 s), which a
    # process answering from stored sentence spans never needs.
    from llama_index.core.utils import globals_helper
    from nltk.tokenize.punkt import PunktTokenizer

    globals_helper.wait_for_nltk_check()  # puts llama-index's bundled NLTK data on the path
    return PunktTokenizer("english")


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
