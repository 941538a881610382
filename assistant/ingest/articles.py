"""``Article`` and one parser per input kind (CONTRACT §1): plain text, Markdown, HTML, JSON.

The stored text of an article is always a contiguous span of the decoded file (for .txt and
.md) or the ``text`` field as given (JSON), stripped of surrounding whitespace only: a quote
taken from it is verbatim in the original too. For the wire format of the seeds, the
``date …`` marker, the dateline and the closing credit line are metadata, so they sit outside
that span.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

import yaml

from assistant.errors import ArticleError, InputError

TITLE_CHARS = 90


@dataclass(frozen=True)
class Article:
    id: str
    text: str
    title: str
    date: str | None = None  # ISO YYYY-MM-DD
    source: str | None = None
    url: str | None = None
    dateline: str | None = None
    path: str | None = None
    encoding: str = "utf-8"
    named_by_file: bool = False  # the id is the file's name (no id field gave it)

    @property
    def content_hash(self) -> str:
        """Changes when anything we store changes: the text or any metadata field."""
        parts = [self.text, self.title, self.date or "", self.source or "", self.url or "",
                 self.dateline or ""]
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]

    @property
    def date_int(self) -> int:
        """YYYYMMDD as an integer, for range filters; 0 when undated."""
        return int(self.date.replace("-", "")) if self.date else 0




_DATE_MARK = re.compile(r"\A\s*date:?\s+(\d{4}-\d{2}-\d{2})\b[ \t]*", re.IGNORECASE)


# "Tokyo, Jan. 31 (Jiji Press)--", "LONDON, March 3 (Reuters) - ", "BEIJING, March 3
# (Xinhua) -- ": a place, a day and an agency in brackets, then a dash.
_DATELINE_AGENCY = re.compile(
    r"(?P<place>[A-Z][\w .'-]{1,40}?),\s+(?P<day>[A-Z][a-z]{2,4}\.?\s+\d{1,2})\s+"
    r"\((?P<agency>[^)\n]{2,60})\)(?:\s*(?:--|—|–)|\s+-)\s*"
)


# "WASHINGTON (AP) — ", "PARIS (AFP) - ", "TOKYO (Kyodo) -- ": a place in capitals and an
# agency; or "TOKYO — The ...": capitals and a long dash before a capitalised word. A bare
# hyphen without an agency is not a dateline ("NASA - the agency said").
_DATELINE_CAPS = re.compile(
    r"(?P<place>[A-Z][A-Z .'-]{1,40}?)(?:\s+\((?P<agency>[^)\n]{2,60})\)\s+(?:—|–|--|-)\s+"
    r"|\s+(?:—|–|--)\s+(?=[A-Z\"“]))"
)


_COPYRIGHT = re.compile(
    r"(?:\s+END)?\s*\[\s*(?:Copyright|©)\s+(?P<owner>[^\]\n]{2,80})\]\s*\Z", re.IGNORECASE
)


_CREDIT = re.compile(r"\s*(?:—|–|--)\s*(?P<credit>[A-Z][^\n—–]{2,60})\s*\Z")


def parse_plain(text: str, stem: str, name: str = "") -> Article:
    """A .txt article: the seed wire format, or any text with an optional headline line."""
    start, end = 0, len(text)
    iso: str | None = None
    m = _DATE_MARK.match(text)
    if m:
        iso = normalize_date(m.group(1), "date", name or stem)
        start = m.end()
    start += len(text[start:end]) - len(text[start:end].lstrip())
    title: str | None = None
    # A short first line followed by a blank line is a headline.
    head = re.match(r"([^\r\n]{3,200})\r?\n[ \t]*\r?\n", text[start:end])
    if head and not head.group(1).rstrip().endswith((".", ":", ";", ",")):
        title = head.group(1).strip()
        start += head.end()
        start += len(text[start:end]) - len(text[start:end].lstrip())
    dateline, source = None, None
    for pattern in (_DATELINE_AGENCY, _DATELINE_CAPS):
        d = pattern.match(text, start, end)
        if d:
            dateline = d.group("place").strip()
            source = d.group("agency")
            start = d.end()
            break
    c = _COPYRIGHT.search(text, start, end)
    if c:
        source = source or _outlet_name(c.group("owner"))
        end = c.start()
    elif m or dateline:
        # A closing credit ("— The Yomiuri Shimbun/ANN") only in wire copy (a date marker or
        # a dateline), and never a sentence ("— March 3, officials said.").
        credit = _CREDIT.search(text, start, end)
        if credit and not credit.group("credit").rstrip().endswith((".", "!", "?", ",")):
            source = source or _outlet_name(credit.group("credit"))
            end = credit.start()
    body = text[start:end].strip()
    if not body:
        raise ArticleError(name or stem, "no article text after the metadata")
    return Article(
        id=stem, text=body, title=title or title_from_lead(body), date=iso,
        source=source.strip() if source else None, dateline=dateline,
    )


def _outlet_name(owner: str) -> str:
    """'The Jiji Press, Ltd.' -> 'Jiji Press'; 'The Yomiuri Shimbun/ANN' -> 'The Yomiuri
    Shimbun'."""
    name = owner.split("/")[0].strip()
    name = re.sub(r",?\s+(Ltd|Inc|Co|LLC|plc)\.?\Z", "", name, flags=re.IGNORECASE).strip()
    if re.match(r"The\s+\w+\s+Press\Z", name):  # wire agencies drop the article
        name = name[4:]
    return name


def title_from_lead(body: str) -> str:
    """A short title made from the lead sentence, cut at a word boundary."""
    lead = re.split(r"(?<=[.!?])\s+(?=[A-Z\"“])", body.strip(), maxsplit=1)[0]
    lead = " ".join(lead.split())
    if len(lead) <= TITLE_CHARS:
        return lead.rstrip(".") or lead  # a lead of only dots keeps them: a title is never empty
    cut = lead[:TITLE_CHARS].rsplit(" ", 1)[0].rstrip(",;:- ")
    return cut + "…"


def parse_markdown(text: str, stem: str, name: str) -> Article:
    meta: dict[str, Any] = {}
    start = 0
    fm = re.match(r"\A---[ \t]*\r?\n(.*?\r?\n)---[ \t]*\r?\n", text, re.DOTALL)
    if fm:
        try:
            loaded = yaml.safe_load(fm.group(1))
        except yaml.YAMLError as e:
            raise ArticleError(name, f"front matter is not valid YAML: {e}") from e
        if loaded is not None and not isinstance(loaded, dict):
            raise ArticleError(name, "front matter must be a mapping of fields")
        meta = loaded or {}
        start = fm.end()
    title = _str_field(meta, "title", name)
    head = re.match(r"\s*#[ \t]+([^\r\n]+)\r?\n?", text[start:])
    if head:
        title = title or head.group(1).strip()
        start += head.end()
    body = text[start:].strip()
    if not body:
        raise ArticleError(name, "no article text")
    raw_date = meta.get("date")
    return Article(
        id=_str_field(meta, "id", name) or stem,
        text=body,
        title=title or title_from_lead(body),
        date=normalize_date(raw_date, "date", name) if raw_date else None,
        source=_str_field(meta, "source", name),
        url=_str_field(meta, "url", name),
    )


def parse_html(html: str, stem: str, name: str) -> Article:
    import trafilatura

    doc = trafilatura.bare_extraction(html, with_metadata=True, include_comments=False)
    if doc is None:
        raise ArticleError(name, "no main text found in the HTML page")
    data = doc if isinstance(doc, dict) else doc.as_dict()
    body = (data.get("text") or "").strip()
    if not body:
        raise ArticleError(name, "no main text found in the HTML page")
    raw_date = data.get("date")
    iso = None
    if raw_date:
        try:
            iso = normalize_date(str(raw_date), "date", name)
        except ArticleError:
            iso = None  # a page's odd date metadata is not a reason to drop the article
    return Article(
        id=stem, text=body, title=(data.get("title") or "").strip() or title_from_lead(body),
        date=iso, source=(data.get("sitename") or data.get("hostname") or None),
        url=data.get("url") or None,
    )


def parse_json(text: str, stem: str, name: str) -> list[Article]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ArticleError(name, f"invalid JSON: {e.msg}", line=e.lineno) from e
    items = data if isinstance(data, list) else [data]
    if not items:
        raise ArticleError(name, "the JSON list holds no articles")
    many = len(items) > 1
    return [article_from_object(obj, None if many else stem, name, None) for obj in items]


def article_from_object(obj: object, fallback_id: str | None, name: str,
                        line: int | None) -> Article:
    """``fallback_id``: the id when the object has none; ``None`` (articles of a feed or a
    list) means one made from what identifies the article, not from where it sits in the
    file: its ``url``, else its text (``url-…`` / ``text-…``, a SHA-256 prefix). So
    tomorrow's feed.jsonl never replaces today's articles by position."""
    if not isinstance(obj, dict):
        raise ArticleError(name, "an article must be a JSON object", line=line)
    text = obj.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ArticleError(name, "missing or empty field 'text'", line=line)
    body = text.strip()
    raw_date = obj.get("date")
    try:
        return Article(
            id=_str_field(obj, "id", name, line) or fallback_id or _derived_id(obj, body),
            text=body,
            title=_str_field(obj, "title", name, line) or title_from_lead(body),
            date=normalize_date(raw_date, "date", name, line) if raw_date else None,
            source=_str_field(obj, "source", name, line),
            url=_str_field(obj, "url", name, line),
        )
    except ArticleError:
        raise


def _derived_id(obj: dict[str, Any], body: str) -> str:
    url = obj.get("url")
    if isinstance(url, str) and url.strip():
        return "url-" + hashlib.sha256(url.strip().encode()).hexdigest()[:16]
    return "text-" + hashlib.sha256(body.encode()).hexdigest()[:16]


def _str_field(obj: dict[str, Any], key: str, name: str, line: int | None = None) -> str | None:
    value = obj.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and key == "id":
        return str(value)
    if not isinstance(value, str):
        raise ArticleError(name, f"field {key!r} must be a string", line=line)
    return value.strip() or None


def date_window(since: str | None, until: str | None,
                names: tuple[str, str] = ("--since", "--until")) -> tuple[str | None, str | None]:
    """A date filter's two ends as ISO days (blank ends open); one that ends before it
    starts is refused: it would match nothing, and the answer would blame the articles."""
    lo = normalize_date(since, names[0]) if since and since.strip() else None
    hi = normalize_date(until, names[1]) if until and until.strip() else None
    if lo and hi and lo > hi:
        raise InputError(f"{names[0]} {lo} is after {names[1]} {hi}: no day is in between")
    return lo, hi


def normalize_date(value: object, field: str, name: str = "", line: int | None = None) -> str:
    """Any reasonable date form -> ISO YYYY-MM-DD, or an error naming the field."""
    if isinstance(value, date):
        return value.isoformat()[:10]
    raw = str(value).strip()
    # A file's field is named in the message; a command-line flag is the message's subject.
    said = f"field {field!r}: " if name else ""
    m = re.match(r"\A(\d{4})-(\d{2})-(\d{2})", raw)
    if m:
        try:
            return date(int(m[1]), int(m[2]), int(m[3])).isoformat()
        except ValueError:
            # "2026-13-01" is a slip, not another order: dateparser would quietly read it
            # as 13 January, and a wrong date is worse than none.
            raise ArticleError(name or field, f"{said}{raw!r} is not a day of the calendar "
                               "(YYYY-MM-DD)", line=line) from None
    import dateparser

    parsed = dateparser.parse(raw, settings={"PREFER_DAY_OF_MONTH": "first",
                                              "REQUIRE_PARTS": ["year"]})
    if parsed is None:
        raise ArticleError(name or field, f"{said}cannot read {raw!r} as a date", line=line)
    return parsed.date().isoformat()
