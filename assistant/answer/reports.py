"""What reports state, compared: figures, weekdays and disagreements.

- ``weekday_dates``: "on Saturday" in an article dated Monday 2026-02-02 is 2026-01-31: the
  last such day on or before the article's date, within the week before it; answers say so.
- ``figure_mentions`` / ``unstated_figures``: the figures a claim states that its quote does
  not (the check of model sentences).
- ``find_conflicts``: two articles whose sentences report the same thing (close in meaning)
  with different figures are a conflict; both versions are kept, each with its citation.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from assistant.text import MONTH_PATTERN as _MONTH_RE
from assistant.text import MONTHS

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


_YEAR_AFTER = re.compile(r",?\s+((?:19|20)\d\d)\b")
_DATE_YEAR = "date (year)"


def _day_of_month(text: str, m: re.Match[str]) -> tuple[int, int, int | None, int, int] | None:
    """For a number of ``_QUANTITY`` that is the day of a date, written either way ("April
    14, 2024", "14 April 2024"): its month, day, year if given, and the date's characters."""
    raw, percent, scale, unit = m.groups()
    if percent or scale or not raw.isdigit() or not 1 <= int(raw) <= 31:
        return None
    before = re.search(rf"\b({_MONTH_RE})\.?\s*$", text[: m.start()], re.I)
    if before:
        month, start, end = MONTHS[before.group(1).lower()], before.start(), m.end(1)
    elif unit and unit.lower() in MONTHS and unit[0].isupper():  # "3 may have died" is no date
        month, start, end = MONTHS[unit.lower()], m.start(), m.end(4)
    else:
        return None
    year = _YEAR_AFTER.match(text, end)
    if year:
        end = year.end()
    return month, int(raw), int(year.group(1)) if year else None, start, end


def quantities(text: str) -> set[tuple[float, str]]:
    """Figures in a sentence as (value, unit), with number words and scales resolved.
    A day of a month ("April 14", "14 April") is a figure with the unit "date", and its
    year, where the date gives one, a figure of its own (``_DATE_YEAR``: "November 15,
    2012" and "15 November 2020" disagree); other years are left out."""
    from assistant.text import is_stop

    found = set()
    for m in _QUANTITY.finditer(text):
        raw, percent, scale, unit = m.groups()
        key = raw.lower().replace(",", "")
        value = float(_NUMBER_WORDS[key]) if key in _NUMBER_WORDS else float(key)
        day = _day_of_month(text, m)
        if day is not None:
            month, number, year, _, _ = day
            found.add((float(month * 100 + number), "date"))
            if year is not None:
                found.add((float(year), _DATE_YEAR))
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
        day = _day_of_month(text, m) if unit in ("date", _DATE_YEAR) else None
        if day is not None:
            return text[day[3] : day[4]]
        label = "%" if m.group(2) else (m.group(4) or "").lower().rstrip("s")
        if label == unit:
            return m.group(0).strip()
    return text


def _topic(a: str, b: str, unit: str) -> str:
    """The words both sentences share, as a short label for the disputed figure."""
    from assistant.text import is_stop, words

    theirs = set(words(b))
    shared = [w for w in dict.fromkeys(words(a)) if w in theirs and not is_stop(w)
              and len(w) > 3 and not w.isdigit()]
    label = "date" if unit == _DATE_YEAR else unit or "figure"
    return " ".join([*shared[:5], f"({label})"])
