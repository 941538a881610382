"""News as news: dates, outlets, conflicting reports and syndicated copies.

- ``question_scope``: "in January 2026", "as of 3 February 2026", "since ...", "before ...",
  "latest" / "most recent", and an outlet named in the question become filters and a
  preference for recent reports (dates parsed with dateparser).
- ``weekday_dates``: "on Saturday" in an article dated Monday 2026-02-02 is 2026-01-31 — the
  last such day on or before the article's date, within the week before it; answers say so.
- ``find_conflicts``: two articles whose sentences report the same thing (close in meaning)
  with different figures are a conflict; both versions are kept, each with its citation.
- ``NearDuplicates``: MinHash (datasketch) over word 5-shingles; an article whose shingles
  overlap an earlier one's by about 80 % or more is a re-published copy (``duplicate_of``),
  unless the two read word for word the same but for names or figures (``rival_versions``):
  then they say different things, and both stay to be found and compared.
"""

from __future__ import annotations

import base64
import calendar
import hashlib
import re
import unicodedata
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from difflib import SequenceMatcher
from functools import lru_cache
from typing import Any

import numpy as np

from .articles import Article
from .entities import fold
from .filters import Filters
from .text import MONTH_PATTERN as _MONTH_RE
from .text import MONTHS

_IN_MONTH = re.compile(rf"\b(?:in|during|from)\s+({_MONTH_RE})\.?\s+(\d{{4}})\b", re.I)
_IN_YEAR = re.compile(r"\b(?:in|during)\s+((?:19|20)\d{2})\b(?!\s*(?:-|to)\s*\d)", re.I)
_DATE_PHRASE = (r"\d{4}-\d{2}-\d{2}|[A-Za-z]{3,9}\.?\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4}"
                r"|\d{1,2}(?:st|nd|rd|th)?\s+[A-Za-z]{3,9}\.?,?\s+\d{4}|[A-Za-z]{3,9}\s+\d{4}")
_AS_OF = re.compile(rf"\b(as of|until|up to|by|before|after|since)\s+({_DATE_PHRASE})\b", re.I)
_LATEST = re.compile(r"\b(latest|most recent|newest|last reported|currently|now)\b", re.I)
_WEEKDAY = re.compile(r"\b(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)\b")
_NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20,
    "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "ninety": 90, "hundred": 100,
    "dozen": 12,
}
_SCALE = {"thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12}
_QUANTITY = re.compile(
    r"(?<![\w.])(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?|" + "|".join(_NUMBER_WORDS) + r")"
    r"(?:\s*(%|percent|per cent))?(?:\s+(" + "|".join(_SCALE) + r"))?"
    r"(?:\s+([a-z]+))?", re.I)


@dataclass(frozen=True)
class Scope:
    """What a question says about time and outlets, beyond its topic."""

    filters: Filters
    prefer_recent: bool = False
    said: str = ""  # a short phrase for the answer: "in January 2026", "as of 2026-02-01"
    topic: str = ""  # the question without its time and outlet phrases
    favoured: tuple[str, str] | None = None  # ISO window that "this week" and the like name


# Relative time words, read against the asker's day ("today"). They favour the articles of
# the window they name rather than shut the others out: a story asked about "this week" is
# often told best by an article from the week before, or by background written years ago.
_RELATIVE = re.compile(
    r"\b(this (?:past )?week(?:end)?|last week(?:end)?|past (?:few|several) days|yesterday"
    r"|today|tonight|this morning|this month|last month|this year|last year"
    r"|(?<!most )recent(?:ly)?"
    r"|(?:last|this|on) (?:monday|tuesday|wednesday|thursday|friday|saturday|sunday))\b"
    r"(?:'s)?", re.I)


RECENT_DAYS = 90  # "recently": the past three months (docs/tuning.md)


def relative_window(phrase: str, today: date) -> tuple[date, date]:
    """The days a relative phrase names, seen from ``today``."""
    p = phrase.lower().removesuffix("'s")
    if p in ("today", "tonight", "this morning"):
        return today, today
    if p == "yesterday":
        day = today - timedelta(days=1)
        return day, day
    if p.endswith("weekend") and p != "this weekend":
        # "last weekend", "this past weekend": the Saturday and Sunday before today (the one
        # before that when asked on a weekend day), and the Monday's reports of it.
        saturday = today - timedelta(days=(today.weekday() - 5) % 7 or 7)
        if today.weekday() == 6 and p.startswith("last"):
            saturday -= timedelta(days=7)
        return saturday, min(today, saturday + timedelta(days=2))
    if p.startswith("last week"):
        return today - timedelta(days=14), today - timedelta(days=7)
    if p.startswith("recent"):
        return today - timedelta(days=RECENT_DAYS), today
    if p == "this month":
        return today.replace(day=1), today
    if p == "last month":
        end = today.replace(day=1) - timedelta(days=1)
        return end.replace(day=1), end
    if p == "this year":
        return today.replace(month=1, day=1), today
    if p == "last year":
        return date(today.year - 1, 1, 1), date(today.year - 1, 12, 31)
    weekday = p.split()[-1]
    if weekday in (d.lower() for d in calendar.day_name):
        target = [d.lower() for d in calendar.day_name].index(weekday)
        back = (today.weekday() - target) % 7 or 7
        day = today - timedelta(days=back)
        return day, min(today, day + timedelta(days=1))  # reports come out the day after
    return today - timedelta(days=7), today  # this week, the past few days


def _parse_day(text: str) -> date | None:
    import dateparser

    parsed = dateparser.parse(text, settings={"PREFER_DAY_OF_MONTH": "first",
                                              "REQUIRE_PARTS": ["year"]})
    return parsed.date() if parsed else None


def question_scope(question: str, sources: Sequence[str] = (),
                   today: date | None = None) -> Scope:
    """Filters and recency preference read from the wording of a question; relative words
    ("this week", "yesterday") are read against ``today`` (the asker's day)."""
    since = until = None
    said = ""
    spans: list[tuple[int, int]] = []
    favoured: tuple[str, str] | None = None
    rel = _RELATIVE.search(question)
    if rel:
        lo, hi = relative_window(rel.group(1), today or date.today())
        favoured = (lo.isoformat(), hi.isoformat())
        spans.append(rel.span())
    m = _IN_MONTH.search(question)
    if m:
        year, month = int(m.group(2)), MONTHS[m.group(1).lower().rstrip(".")]
        since = date(year, month, 1)
        until = date(year, month, calendar.monthrange(year, month)[1])
        said = f"in {calendar.month_name[month]} {year}"
        spans.append(m.span())
    elif (y := _IN_YEAR.search(question)) is not None:
        # A bare year usually dates the fact ("the CEO in 2021", "the 2018 final"), and a
        # report written later tells it as well: the year is favoured, not a filter.
        year = int(y.group(1))
        favoured = favoured or (f"{year}-01-01", f"{year}-12-31")
        said = f"in {year}"
    for a in _AS_OF.finditer(question):
        word, phrase = a.group(1).lower(), a.group(2)
        day = _parse_day(phrase)
        if day is None:
            continue
        spans.append(a.span())
        whole_month = re.fullmatch(r"[A-Za-z]{3,9}\s+\d{4}", phrase.strip()) is not None
        last = (day.replace(day=calendar.monthrange(day.year, day.month)[1]) if whole_month
                else day)
        if word in ("as of", "until", "up to", "by"):
            until, said = last, f"as of {last.isoformat()}"
        elif word == "before":
            until, said = day - timedelta(days=1), f"before {day.isoformat()}"
        elif word == "after":
            since, said = last + timedelta(days=1), f"after {last.isoformat()}"
        else:
            since, said = day, f"since {day.isoformat()}"
    outlets = {s: found for s in sources if s and (found := outlet_spans(s, question))}
    named = tuple(outlets)
    spans += [span for found in outlets.values() for span in found]
    recent = _LATEST.search(question)
    if recent:
        spans.append(recent.span())
    if named or recent:
        spans += [x.span() for x in re.finditer(r"\breport(?:s|ed|ing)?\b", question, re.I)]
    keep = [True] * len(question)
    for start, end in spans:
        keep[start:end] = [False] * (end - start)
    topic = "".join(c if k else " " for c, k in zip(question, keep, strict=True))
    return Scope(
        filters=Filters(since=since.isoformat() if since else None,
                        until=until.isoformat() if until else None, sources=named),
        prefer_recent=bool(recent), said=said, topic=" ".join(topic.split()),
        favoured=favoured,
    )


_REPORTING = re.compile(
    r"\b(?:report\w*|according to|sa(?:y|ys|id)|wr(?:ite|ites|ote|itten)|publish\w*"
    r"|cover(?:s|ed|age)?|article|stor(?:y|ies)|headlines?|editorial|column)\b", re.I)
_OUTLET_FILLER = frozenset({"the", "press", "news", "times", "daily", "post", "agency", "inc"})


def outlet_spans(source: str, question: str) -> list[tuple[int, int]]:
    """Where ``question`` names the outlet ``source`` (empty: it does not).

    By its whole name ("Jiji Press"; a host name by its site's label written out, "USA
    Today" for college.usatoday.com), or by its first distinctive word ("Yomiuri" for The
    Yomiuri Shimbun) written as a name, in a question about what was reported: a first word
    alone is often a place or a common word ("Atlanta" of an Atlanta paper, "college" of a
    host name), and "a speech at Atlanta's college" asks about no outlet."""
    if "." in source and " " not in source:
        labels = source.lower().split(".")
        while len(labels) > 1 and len(labels[-1]) <= 3:  # com, co.uk, com.au
            labels.pop()
        site = labels[-1]
        span = _word_runs(question).get(site) if len(site) >= 3 else None
        return [span] if span else []
    bare = re.sub(r"^the\s+", "", source.strip(), flags=re.I)
    whole = [m.span() for m in re.finditer(rf"\b{re.escape(bare)}\b", question, re.I)]
    words = [w for w in re.findall(r"[A-Za-z]+", bare) if w.lower() not in _OUTLET_FILLER]
    first = words[0] if words else ""
    as_name = first if first[:1].isupper() else first.capitalize()
    named = [m.span() for m in re.finditer(rf"\b{re.escape(as_name)}\b", question)]
    if not whole and not (len(first) >= 4 and named and _REPORTING.search(question)):
        return []
    # The outlet's words leave the topic ("what did the Yomiuri Shimbun report about X").
    return whole + [m.span() for w in words if len(w) > 3
                    for m in re.finditer(rf"\b{re.escape(w)}\b", question, re.I)]


@lru_cache(maxsize=64)
def _word_runs(question: str) -> dict[str, tuple[int, int]]:
    """Each run of one to three words of the question, lowercased and written together
    ("usatoday" for "USA Today"), with its first span (shorter runs first): read once per
    question, not once per outlet of the store."""
    tokens = list(re.finditer(r"[A-Za-z]+", question))
    runs: dict[str, tuple[int, int]] = {}
    for n in (1, 2, 3):
        for i in range(len(tokens) - n + 1):
            run = tokens[i:i + n]
            runs.setdefault("".join(w.group().lower() for w in run),
                            (run[0].start(), run[-1].end()))
    return runs


def weekday_dates(text: str, article_date: str | None) -> list[tuple[int, int, date]]:
    """(start, end, day) for each weekday name in ``text`` that the article's date resolves:
    the last such weekday on or before the article's date, within the week before it."""
    if not article_date:
        return []
    published = date.fromisoformat(article_date)
    out = []
    for m in _WEEKDAY.finditer(text):
        target = list(calendar.day_name).index(m.group(1))
        back = (published.weekday() - target) % 7
        day = published - timedelta(days=back)
        following = text[m.end() : m.end() + 12].lower()
        if "next" in text[max(0, m.start() - 6) : m.start()].lower() or following.startswith(
                " next"):
            continue  # "next Saturday" points forward: not ours to guess
        out.append((m.start(), m.end(), day))
    return out


def annotate_weekdays(sentence: str, article_date: str | None) -> str:
    """'talks in Tokyo on Saturday' -> 'talks in Tokyo on Saturday (2026-01-31)'."""
    spans = weekday_dates(sentence, article_date)
    for _start, end, day in reversed(spans):
        if sentence[end : end + 2] == " (":
            continue
        sentence = f"{sentence[:end]} ({day.isoformat()}){sentence[end:]}"
    return sentence


def quantities(text: str) -> set[tuple[float, str]]:
    """Figures in a sentence as (value, unit), with number words and scales resolved.
    A day of a month ("April 14") is a figure with the unit "date"; years are left out."""
    from .text import is_stop

    found = set()
    for m in _QUANTITY.finditer(text):
        raw, percent, scale, unit = m.groups()
        key = raw.lower().replace(",", "")
        value = float(_NUMBER_WORDS[key]) if key in _NUMBER_WORDS else float(key)
        before = re.search(rf"\b({_MONTH_RE})\.?\s*$", text[: m.start()], re.I)
        if before and value <= 31:
            found.add((MONTHS[before.group(1).lower()] * 100 + value, "date"))
            continue
        if scale:
            value *= _SCALE[scale.lower()]
        if percent:
            label = "%"
        elif unit and not is_stop(unit) and unit.lower() not in MONTHS:
            label = unit.lower().rstrip("s")
        else:
            label = ""
        if not label and 1900 <= value <= 2100 and "." not in key:
            continue  # a year, not a figure
        found.add((value, label))
    return found


def figure_mentions(text: str) -> list[tuple[str, float]]:
    """Every figure a sentence states, as written and as a value, years included ("2024",
    "15 million", "three"): what a claim must not state unless its source does."""
    out = []
    for m in _QUANTITY.finditer(text):
        raw, _, scale, _ = m.groups()
        key = raw.lower().replace(",", "")
        if key == "one" and not scale:
            continue  # "one of the leaders" states no figure
        value = float(_NUMBER_WORDS[key]) if key in _NUMBER_WORDS else float(key)
        if scale:
            value *= _SCALE[scale.lower()]
        out.append((text[m.start(1) : m.end(3) if scale else m.end(1)], value))
    return out


def unstated_figures(claim: str, evidence: str) -> list[str]:
    """The figures of ``claim`` that ``evidence`` does not state (by value: "12m" is not
    needed to spell "12 million")."""
    have = {v for _, v in figure_mentions(evidence)}
    return [raw for raw, v in figure_mentions(claim) if v not in have]


def disagreement(a: str, b: str) -> str | None:
    """The unit in which two sentences give different figures ("pound", "date"), if any."""
    qa, qb = quantities(a), quantities(b)
    for unit in sorted({u for _, u in qa} & {u for _, u in qb}):
        if not unit:
            continue
        if not {v for v, u in qa if u == unit} & {v for v, u in qb if u == unit}:
            return unit
    return None


@dataclass(frozen=True)
class Reported:
    """One sentence put in an answer, with what the conflict check needs."""

    text: str
    article_id: str
    source: str | None
    citation: int
    vector: np.ndarray


def find_conflicts(items: Sequence[Reported], same_topic: float = 0.6
                   ) -> list[tuple[str, list[tuple[str, list[int]]]]]:
    """Pairs of sentences from different articles about the same thing whose figures differ
    in a unit both give: (topic, [(claim, [citation numbers]), ...])."""
    conflicts = []
    used: set[int] = set()
    for i, a in enumerate(items):
        for j in range(i + 1, len(items)):
            b = items[j]
            if a.article_id == b.article_id or i in used or j in used:
                continue
            if float(a.vector @ b.vector) < same_topic:
                continue
            unit = disagreement(a.text, b.text)
            if unit is not None:
                conflicts.append((_topic(a.text, b.text, unit),
                                  [(_figure(a.text, unit), [a.citation]),
                                   (_figure(b.text, unit), [b.citation])]))
                used.update((i, j))
    return conflicts


def _figure(text: str, unit: str) -> str:
    """The words that state the disputed figure ("12 million pounds", "April 14")."""
    for m in _QUANTITY.finditer(text):
        before = re.search(rf"\b({_MONTH_RE})\.?\s*$", text[: m.start()], re.I)
        if unit == "date" and before:
            return f"{before.group(1)} {m.group(1)}"
        label = "%" if m.group(2) else (m.group(4) or "").lower().rstrip("s")
        if label == unit:
            return m.group(0).strip()
    return text


def _topic(a: str, b: str, unit: str) -> str:
    """The words both sentences share, as a short label for the disputed figure."""
    from .text import is_stop, words

    theirs = set(words(b))
    shared = [w for w in dict.fromkeys(words(a)) if w in theirs and not is_stop(w)
              and len(w) > 3 and not w.isdigit()]
    return " ".join([*shared[:5], f"({unit or 'figure'})"])


def rival_versions(a: str, b: str, outlets: Sequence[str] = ()) -> bool:
    """Two texts the same word for word but for a name or a figure ("Tim Cook is Apple's
    CEO" / "Steve Jobs is Apple's CEO"): a report that contradicts the other, not a copy."""
    return swapped(a, b, outlets) is not None


def swapped(a: str, b: str, outlets: Sequence[str] = ()
            ) -> tuple[list[str], list[str]] | None:
    """The names or figures each text gives in place of the other's, when that is all
    that differs between them.

    Every run of words that differs must be a short swap (at most five words a side) with a
    name or a figure at both ends of both sides, and the swaps at most a fifth of the
    words. Re-spellings ("Visé" / "Vise") and the outlets' own names are passed over; any
    other edit (a sentence added, a byline, an update's rewording) makes it no swap:
    syndicated copies differ in those ways, rival versions only in the fact. Both the
    copy check at ingest and the reader's "one fact, other names" test use it."""
    wa, wb = _WORDS.findall(a), _WORDS.findall(b)
    own = {fold(o) for o in outlets if o}
    mine: list[str] = []
    theirs: list[str] = []
    changed = 0
    for op, i1, i2, j1, j2 in SequenceMatcher(None, wa, wb, autojunk=False).get_opcodes():
        if op == "equal":
            continue
        x, y = " ".join(wa[i1:i2]), " ".join(wb[j1:j2])
        if fold(x) in own or fold(y) in own or SequenceMatcher(
                None, _letters(x), _letters(y), autojunk=False).ratio() >= _RESPELLED:
            continue
        if op != "replace" or max(i2 - i1, j2 - j1) > _SWAP_WORDS or not (
                _name_run(wa[i1:i2]) and _name_run(wb[j1:j2])):
            return None
        mine.append(x)
        theirs.append(y)
        changed += max(i2 - i1, j2 - j1)
    # Two short sentences that share a name and little else are not one text.
    if not mine or changed > (1 - _SAME_SHARE) * max(len(wa), len(wb)):
        return None
    return mine, theirs


_SWAP_WORDS = 5
# Unicode words, unlike text.words: "Marilène" must stay one word to be seen as a re-spelling.
_WORDS = re.compile(r"\w+(?:['’]\w+)*")
_SAME_SHARE = 0.8
_RESPELLED = 0.8  # letters alike, accents and spaces aside: one name spelled two ways


def _letters(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text.lower()) if c.isalnum())


def _name_run(run: list[str]) -> bool:
    """Begins and ends with a figure or a capitalised word ("Toy Story 2", "The Shape of
    Water"; one letter is an initial or a cut word, not a name)."""
    return all(any(c.isdigit() for c in w) or (w[0].isupper() and len(w) > 1)
               for w in (run[0], run[-1]))


@dataclass(frozen=True)
class CopyCheck:
    """What copy detection says of an article about to be written."""

    original: str | None = None  # the stored article it re-publishes
    signature: str = ""  # its MinHash signature, encoded
    bands: tuple[str, ...] = ()  # its LSH band keys, stored to be found by key
    copies: tuple[str, ...] = ()  # stored articles that turn out to re-publish it


class NearDuplicates:
    """Finds re-published copies (MinHash LSH over word 5-shingles, datasketch's MinHash).

    The store is asked by key, never read whole: each signature is cut into LSH bands
    (``bands``), the registry keeps each article's band keys, and ``check`` asks the store
    only for the articles that share a band with the new one (``lookup``), then compares
    their signatures. Cost per article is independent of the store's size. Articles of the
    running batch, not yet in the registry, are remembered here until the run ends."""

    NUM_PERM = 64
    THRESHOLD = 0.8
    SCHEME = "affine32"  # stored signatures are read back with the scheme they were made with
    # Bands and rows per band as datasketch's MinHashLSH chooses them for this threshold
    # and permutation count (b=5, r=11): the same candidates as the in-memory LSH had.
    BANDS, ROWS = 5, 11
    RECENT = 256

    def __init__(self, lookup: Callable[[list[str]], Sequence[tuple[str, str | None, str]]],
                 texts: Callable[[list[str]], Mapping[str, str]] | None = None,
                 ) -> None:
        """``lookup(band keys)``: (article id, date, encoded signature) of the stored
        articles sharing any of those band keys. ``texts(ids)``: stored articles' texts,
        to tell a rival version from a copy (without it every near match is a copy)."""
        self._lookup = lookup
        self._texts = texts
        # Texts of the latest articles checked: those of the batch being written are not
        # stored yet (a batch holds at most ingest.EMBED_BATCH_CHUNKS articles).
        self._recent: OrderedDict[str, tuple[str, str | None]] = OrderedDict()
        self._dates: dict[str, str] = {}
        self._signatures: dict[str, Any] = {}  # this run's articles
        self._by_band: dict[str, set[str]] = {}

    @classmethod
    def signature(cls, text: str) -> Any:
        from datasketch import MinHash

        words = re.findall(r"\w+", text.lower())
        shingles = {" ".join(words[i : i + 5]).encode() for i in range(max(1, len(words) - 4))}
        m = MinHash(num_perm=cls.NUM_PERM, scheme=cls.SCHEME)
        m.update_batch(list(shingles))
        return m

    @classmethod
    def bands(cls, m: Any) -> list[str]:
        """One key per band: the band's number and a digest of its rows of hash values."""
        values = np.asarray(m.hashvalues, dtype=np.uint32)
        return [f"{i}:" + hashlib.blake2b(values[i * cls.ROWS : (i + 1) * cls.ROWS].tobytes(),
                                          digest_size=8).hexdigest()
                for i in range(cls.BANDS)]

    @staticmethod
    def encode(m: Any) -> str:
        return base64.b64encode(np.asarray(m.hashvalues, dtype=np.uint32).tobytes()).decode()

    @classmethod
    def decode(cls, encoded: str) -> Any:
        from datasketch import MinHash

        values = np.frombuffer(base64.b64decode(encoded), dtype=np.uint32)
        return MinHash(num_perm=cls.NUM_PERM, hashvalues=values, scheme=cls.SCHEME)

    def _rivals(self, article: Article, similar: list[str]) -> list[str]:
        """Of the near matches, those that contradict the article rather than copy it."""
        known = {c: self._recent[c] for c in similar if c in self._recent}
        missing = [c for c in similar if c not in known]
        if missing and self._texts:
            known.update({c: (t, None) for c, t in self._texts(missing).items()})
        return [c for c, (text, source) in known.items()
                if rival_versions(article.text, text, (article.source or "", source or ""))]

    def check(self, article: Article) -> CopyCheck:
        """The article this one copies, its signature and bands, articles that copy it.

        The earliest report is the original. An article found to be earlier than reports
        already stored becomes their original, so they are returned to be re-marked."""
        m = self.signature(article.text)
        keys = self.bands(m)
        candidates: dict[str, tuple[str, Any]] = {}
        for other, day, encoded in self._lookup(keys):
            if encoded and other != article.id:
                candidates[other] = (day or "9999-99-99", self.decode(encoded))
        for key in keys:
            for other in self._by_band.get(key, ()):
                if other != article.id:
                    candidates[other] = (self._dates[other], self._signatures[other])
        similar = {c: day for c, (day, sig) in candidates.items()
                   if sig.jaccard(m) >= self.THRESHOLD}
        for c in self._rivals(article, list(similar)):
            del similar[c]
        mine = (article.date or "9999-99-99", article.id)
        earlier = [c for c, day in similar.items() if (day, c) < mine]
        later = [c for c, day in similar.items() if (day, c) > mine]
        original = min(earlier, key=lambda c: (similar[c], c)) if earlier else None
        self._signatures[article.id] = m
        self._dates[article.id] = article.date or "9999-99-99"
        self._recent[article.id] = (article.text, article.source)
        while len(self._recent) > self.RECENT:
            self._recent.popitem(last=False)
        for key in keys:
            self._by_band.setdefault(key, set()).add(article.id)
        return CopyCheck(original=original, signature=self.encode(m), bands=tuple(keys),
                         copies=() if original else tuple(later))
