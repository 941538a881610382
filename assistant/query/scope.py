"""A question's scope in time and outlets.

``question_scope``: "in January 2026", "as of 3 February 2026", "since ...", "before ...",
"latest" / "most recent", "recently", and an outlet named in the question become filters and
a preference for recent reports (dates parsed with dateparser).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

from assistant.index.filters import Filters
from assistant.text import MONTH_PATTERN as _MONTH_RE
from assistant.text import MONTHS

_IN_MONTH = re.compile(rf"\b(?:in|during|from)\s+({_MONTH_RE})\.?\s+(\d{{4}})\b", re.I)
_IN_YEAR = re.compile(r"\b(?:in|during)\s+((?:19|20)\d{2})\b(?!\s*(?:-|to)\s*\d)", re.I)
_DATE_PHRASE = (r"\d{4}-\d{2}-\d{2}|[A-Za-z]{3,9}\.?\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4}"
                r"|\d{1,2}(?:st|nd|rd|th)?\s+[A-Za-z]{3,9}\.?,?\s+\d{4}|[A-Za-z]{3,9}\s+\d{4}")


_AS_OF = re.compile(rf"\b(as of|until|up to|by|before|after|since)\s+({_DATE_PHRASE})\b", re.I)
_LATEST = re.compile(r"\b(latest|most recent|newest|last reported|currently|now)\b", re.I)


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


def days_about(favoured: tuple[str, str] | None, today: date | None, asker_days: int
               ) -> tuple[str, str] | None:
    """The ISO days a question is about: those it names (``favoured``), else, as a news
    question that names no time asks about now, the asker's last ``asker_days`` days (none
    without an asker's day, or with ``asker_days`` 0)."""
    if favoured is None and today is not None and asker_days:
        return (today - timedelta(days=asker_days)).isoformat(), today.isoformat()
    return favoured


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
