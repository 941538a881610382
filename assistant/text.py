"""Small text helpers shared by the answerers: content words, stems, lexical coverage."""

from __future__ import annotations

import calendar
import re
from collections.abc import Set as AbstractSet
from functools import lru_cache
from typing import Any

_STOP = frozenset("""
a about above after again against all also am an and any are as at be because been before
being below between both but by can could did do does doing down during each few for from
further had has have having he her here hers herself him himself his how i if in into is it
its itself just me more most my myself no nor not now of off on once only or other our ours
ourselves out over own same she should so some such than that the their theirs them
themselves then there these they this those through to too under until up very was we were
what when where which while who whom why will with would you your yours yourself yourselves
according say says said tell told think thought many much ever one ones like get got make
made way thing things there's it's don't
aren't isn't wasn't weren't doesn't didn't can't couldn't won't wouldn't shouldn't hasn't
haven't hadn't mustn't needn't i'm you're we're they're he's she's that's what's who's
""".split())
# Month names and abbreviations, lower-cased, with their numbers ("sep", "sept", "september":
# 9). "Sept." is the AP style abbreviation, and news is written in AP style.
MONTHS = {m.lower(): i for i, m in enumerate(calendar.month_name) if m}
MONTHS.update({m.lower(): i for i, m in enumerate(calendar.month_abbr) if m})
MONTHS["sept"] = 9
# A regex alternation of those words, longest first so "march" is not read as "mar".
MONTH_PATTERN = "|".join(sorted(MONTHS, key=len, reverse=True))
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’]*")


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


def is_stop(word: str) -> bool:
    return word.lower() in _STOP


def words(text: str) -> list[str]:
    return [w.lower().replace("’", "'") for w in _WORD.findall(text)]


def word_spans(text: str) -> list[tuple[int, int, str]]:
    """Each word of ``words(text)`` with its character offsets in ``text``."""
    return [(m.start(), m.end(), m.group().lower().replace("’", "'"))
            for m in _WORD.finditer(text)]


def stem_words(ws: list[str]) -> list[str]:
    """Snowball (English) stems of already split, lower-cased words."""
    return list(_stemmer().stemWords(ws))


def stems(text: str) -> list[str]:
    ws = [w.removesuffix("'s") for w in words(text)]
    return list(_stemmer().stemWords(ws))


_HOW = {"long", "many", "much", "far", "old", "often", "soon", "big", "large"}


def content_terms(text: str) -> dict[str, str]:
    """The words that carry meaning (no stop words), stem -> the word as first written
    (lower-cased), in order, one per stem.

    The word after "how" ("how long", "how many") asks for a kind of answer rather than
    naming a topic, so it is not something the answer has to contain."""
    raw = words(text)
    ws = [w.removesuffix("'s") for i, w in enumerate(raw)
          if w not in _STOP and len(w) > 1 and not (i and raw[i - 1] == "how" and w in _HOW)]
    terms: dict[str, str] = {}
    for word, stem in zip(ws, _stemmer().stemWords(ws), strict=True):
        terms.setdefault(stem, word)
    return terms


def content_stems(text: str) -> list[str]:
    """Stems of the words that carry meaning (``content_terms``), in order, unique."""
    return list(content_terms(text))


def has_stem(key: str, text_stems: AbstractSet[str]) -> bool:
    """A key matches a stem, or prefixes a longer word when it has at least 4 letters
    ("cyber" finds "cyberdefense")."""
    return key in text_stems or (len(key) >= 4 and any(t.startswith(key) for t in text_stems))


def coverage(keys: list[str], text_stems: set[str], weights: dict[str, float] | None = None,
             context_stems: set[str] | None = None,
             context_credit: dict[str, float] | None = None) -> float:
    """Weighted share of ``keys`` found in ``text_stems``; a key found only in the
    surrounding ``context_stems`` (the passage a sentence sits in) earns ``context_credit``."""
    if not keys:
        return 0.0
    total = found = 0.0
    for k in keys:
        w = weights.get(k, 1.0) if weights else 1.0
        total += w
        if has_stem(k, text_stems):
            found += w
        elif context_stems is not None and context_credit and has_stem(k, context_stems):
            found += w * context_credit.get(k, 0.0)
    return found / total if total else 0.0


def key_weights(keys: list[str], documents: list[set[str]]) -> tuple[dict[str, float],
                                                                     dict[str, float]]:
    """Per question key, its weight and the credit it earns from context alone.

    The weight is the squared inverse document frequency over the candidate sentences: a key
    that tells them apart (the "cyber" of "what did X and Y agree on cyber?") must be in the
    sentence, and a key found in none of them (the "rice" of a question the articles do not
    answer) weighs most of all. A key that most sentences share (the names X and Y) is the
    topic rather than the focus; a sentence whose passage names it may leave it out ("They
    also agreed ..."), so such keys earn up to half credit from the passage, and rare keys
    next to none."""
    import math

    n = len(documents)
    weights, credit = {}, {}
    for k in keys:
        df = sum(has_stem(k, d) for d in documents)
        weights[k] = (math.log((n + 1) / (df + 0.5)) + 0.1) ** 2
        credit[k] = 0.5 * min(1.0, df / max(1.0, 0.5 * n)) ** 2
    return weights, credit


_DOUBLE_QUOTES = str.maketrans("", "", "\"“”")


def fold(text: str) -> str:
    """A name as compared: lower case, no leading article, surrounding punctuation or double
    quotation marks, one space between words ("The Guardian." and "guardian" are one; a
    quotation that closes inside a name, `Ashford" College`, does not make another)."""
    return " ".join(re.sub(r"^(the|a|an)\s+", "",
                           text.lower().translate(_DOUBLE_QUOTES).strip(" .,'’")).split())


def unquoted(phrase: str) -> str:
    """A phrase as an answer states it: without the double quotation marks it holds
    unpaired (a quotation that opens before it or closes inside it: `Ashford" College`)."""
    straight = phrase.count('"') % 2
    curly = phrase.count("“") != phrase.count("”")
    if not straight and not curly:
        return phrase
    drop = ('"' if straight else "") + ("“”" if curly else "")
    return " ".join(phrase.translate(str.maketrans("", "", drop)).split())
