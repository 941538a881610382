"""Which one of a numbered series a text speaks of: "the 2014 FIFA World Cup", "the fourth
season", "Season 17", "the 90th Academy Awards", "World Cup 2018".

A question about one of a series ("who won the World Cup final in 2018?", "when does season
3 premiere?") is not answered by a sentence about another of it, however alike the two read:
the sentence tells of the 2014 final, or of the fourth season. The reader leaves such a
sentence out. Only a number bound to the words it numbers counts: a year inside a date
("November 12, 2010") dates a report rather than naming an event, and a count ("six
tourists", "won 1-0") numbers nothing the question asks about.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.text import MONTHS, has_stem, is_stop, stem_words, word_spans

_ORDINAL_WORDS = {w: n for n, w in enumerate(
    "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth "
    "thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth "
    "twentieth".split(), start=1)}
_ORDINAL = re.compile(r"^(\d{1,3})(?:st|nd|rd|th)$")
_YEAR = re.compile(r"^(?:19|20)\d\d$")
_INDEX = re.compile(r"^\d{1,3}$")
# Between two words, anything but spaces, hyphens and marks like "™" ends the phrase.
_BREAK = re.compile(r"[^\s\-–—™®'’]")
_HEADS = 3  # words after a year or ordinal that it numbers ("the 2014 FIFA World Cup")
# "... in 2018": a year at the end of a question dates all of it.
_DATING = frozenset({"in", "of", "for", "during"})


@dataclass(frozen=True)
class Numbered:
    kind: str  # "year", or "nth" for an ordinal and an index alike ("third season", "season 3")
    value: int
    heads: frozenset[str]  # stems of the words it numbers


def numbered(text: str, whole: bool = False) -> list[Numbered]:
    """The numbered things ``text`` names. ``whole``: the text is a question, and a year
    that ends a phrase ("... in 2018") numbers every content word of it."""
    spans = word_spans(text)
    toks = [w.removesuffix("'s") for _, _, w in spans]
    roots = stem_words(toks)

    def joined(a: int, b: int) -> bool:  # words a and b (a < b) are of one phrase
        return not _BREAK.search(text[spans[a][1] : spans[b][0]])

    def content(n: int) -> bool:
        return not is_stop(toks[n]) and not toks[n][0].isdigit()

    def after(n: int) -> list[str]:
        out = []
        for m in range(n + 1, min(len(toks), n + 1 + _HEADS)):
            if not joined(m - 1, m) or not content(m):
                break
            out.append(roots[m])
        return out

    def before(n: int) -> list[str]:
        out = []
        for m in range(n - 1, max(-1, n - 1 - _HEADS), -1):
            if not joined(m, m + 1) or not content(m):
                break
            out.append(roots[m])
        return out

    found = []
    for n, tok in enumerate(toks):
        if _YEAR.match(tok):
            if any(toks[m] in MONTHS for m in range(max(0, n - 2), n)):
                continue  # a date: "November 12, 2010", "15 November 2020"
            heads = after(n) or before(n)
            if not heads and whole and n and toks[n - 1] in _DATING:
                heads = [roots[m] for m in range(len(toks)) if content(m)]
            kind, value = "year", int(tok)
        elif tok in _ORDINAL_WORDS or _ORDINAL.match(tok):
            m = _ORDINAL.match(tok)
            heads = after(n)
            kind, value = "nth", int(m.group(1)) if m else _ORDINAL_WORDS[tok]
        elif _INDEX.match(tok) and n and joined(n - 1, n) and content(n - 1):
            heads = [roots[n - 1]]  # "Season 17", "No 1"
            kind, value = "nth", int(tok)
        else:
            continue
        if heads:
            found.append(Numbered(kind=kind, value=value, heads=frozenset(heads)))
    return found


def another_of_series(asked: list[Numbered], sentence: str) -> bool:
    """The sentence names another of a series the question names one of: the same words
    numbered otherwise, and the asked number nowhere among its numbered things."""
    if not asked:
        return False
    said = numbered(sentence)
    for q in asked:
        if any(s.kind == q.kind and s.value == q.value for s in said):
            continue
        if any(s.kind == q.kind and s.value != q.value and _shared(q.heads, s.heads)
               for s in said):
            return True
    return False


def _shared(asked: frozenset[str], said: frozenset[str]) -> bool:
    """The same words numbered: two of them, or the one there is ("the 2019 Nobel Prize"
    for "the 2018 Nobel Prize"; not "the 2019 Booker Prize", which shares only "prize")."""
    common = sum(1 for h in said if has_stem(h, asked))
    return common >= min(2, len(asked), len(said))
