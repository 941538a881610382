"""``Article`` and one parser per input kind (CONTRACT §1).

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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from .errors import ArticleError, InputError

SUFFIXES = {".txt", ".md", ".markdown", ".html", ".htm", ".json", ".jsonl"}
TITLE_CHARS = 90
MAX_CHAOS = 0.2  # charset-normalizer's "mess" of its best guess above which we refuse


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


# ---------------------------------------------------------------- reading bytes


def read_text(path: Path, max_bytes: int) -> tuple[str, str]:
    """The file's text and the encoding used; refuses empty, oversized and binary files."""
    name = str(path)
    try:
        size = path.stat().st_size
    except OSError as e:
        raise ArticleError(name, _os_reason(e)) from e
    if size > max_bytes:
        raise ArticleError(
            name, f"file is {size / 1e6:.1f} MB, over the {max_bytes / 1e6:.1f} MB limit"
        )
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise ArticleError(name, _os_reason(e)) from e
    if not raw.strip():
        raise ArticleError(name, "file is empty" if not raw else "file holds only whitespace")
    if b"\x00" in raw[:8192]:
        raise ArticleError(name, "binary file (NUL bytes), not text")
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    text, encoding = _decode(raw, name)
    if _looks_binary(text):
        raise ArticleError(name, "binary file (control characters), not text")
    return text, encoding


def _looks_binary(text: str) -> bool:
    sample = text[:8192]
    controls = sum(1 for c in sample if ord(c) < 32 and c not in "\t\n\r\f\v")
    return controls > max(8, len(sample) // 100)


def _os_reason(e: OSError) -> str:
    return {
        2: "no such file",
        13: "permission denied",
        21: "is a directory",
        40: "too many levels of symbolic links",
    }.get(e.errno or 0, e.strerror or str(e))


# ---------------------------------------------------------------- parsing


def parse_file(path: Path, max_bytes: int = 5_000_000) -> list[Article]:
    """Every article in one file, or an ``ArticleError`` naming the file (and line)."""
    return list(read_articles(path, max_bytes))


def read_articles(path: Path, max_bytes: int = 5_000_000,
                  on_bad_record: Callable[[ArticleError], None] | None = None
                  ) -> Iterator[Article]:
    """The articles of one file, streamed. A file with any unusable part raises before the
    first article is yielded, so that nothing of it is written; but with ``on_bad_record``,
    the bad records of a feed are reported to it and its good ones are read.

    ``max_bytes`` bounds one article: the whole file for single-article kinds, each line of a
    JSONL feed (a feed may be far larger than any article in it)."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ArticleError(str(path), f"unsupported file type {suffix or '(none)'!r}")
    _check_regular(path)
    if suffix == ".jsonl":
        yield from _jsonl_articles(path, max_bytes, on_bad_record)
        return
    text, encoding = read_text(path, max_bytes)
    stem = path.stem
    if suffix == ".txt":
        articles = [parse_plain(text, stem, str(path))]
    elif suffix in (".md", ".markdown"):
        articles = [parse_markdown(text, stem, str(path))]
    elif suffix in (".html", ".htm"):
        articles = [parse_html(text, stem, str(path))]
    else:
        articles = parse_json(text, stem, str(path))
    for a in articles:
        yield _with(a, path=str(path.resolve()), encoding=encoding,
                    named_by_file=a.id == stem)


def _check_regular(path: Path) -> None:
    import stat

    try:
        mode = path.stat().st_mode
    except OSError as e:
        raise ArticleError(str(path), _os_reason(e)) from e
    if stat.S_ISDIR(mode):
        raise ArticleError(str(path), "is a directory")
    if not stat.S_ISREG(mode):
        raise ArticleError(str(path), "not a regular file")  # a FIFO would block forever


def _decode(raw: bytes, name: str, line: int | None = None) -> tuple[str, str]:
    """UTF-8; else Windows-1252 for text in the Latin script; else the encoding
    charset-normalizer finds for other scripts (Shift-JIS, GB18030, Windows-1251, …);
    refused when none of these reads it with confidence, rather than decoded into mojibake.

    Why Windows-1252 first: a few accented letters ("naïve", "café") are too little for a
    statistical detector, which then picks any single-byte code page that decodes them
    (cp1250 "Naďve", cp1125 "cafщ"); Windows-1252 (a superset of Latin-1's printable part) is
    what legacy Western text is, and the default the HTML standard gives unlabelled pages.
    It is taken only when every character outside ASCII that it gives is a letter inside a
    word or common typographic punctuation, which stray or foreign bytes are not."""
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    western = _western(raw)
    if western is not None:
        return western, "cp1252"
    from charset_normalizer import from_bytes

    best = from_bytes(raw).best()
    if best is not None and best.chaos <= MAX_CHAOS:
        text = raw.decode(best.encoding)
        if _other_script(text):  # Latin text that cp1252 could not read is only a guess
            return text, best.encoding
    raise ArticleError(name, "not UTF-8, and its encoding cannot be told with confidence: "
                       "save it as UTF-8", line=line)


# Typographic punctuation and symbols of Western text in Windows-1252 (quotes, dashes,
# ellipsis, bullets, currency, degrees, fractions, no-break space, …); only the first group
# may also stand between two letters ("don’t", "well—known", "l·l").
_JOINING_MARKS = set("‘’‚“”„–—…•·\u00ad")
_WESTERN_MARKS = _JOINING_MARKS | set("€£¥¢©®™°±×÷§¶«»‹›¿¡½¼¾¹²³†‡‰\u00a0")


def _western(raw: bytes) -> str | None:
    """The bytes as Windows-1252 when they read as Western text there, else None: fewer than
    a third of the letters outside ASCII, and each character outside it a letter of a word
    (alone only with a diacritic, as French "à") or a mark that does not split a word
    ("odby³o" is Polish read wrongly)."""
    import unicodedata

    try:
        text = raw.decode("cp1252")
    except UnicodeDecodeError:
        return None  # 0x81, 0x8D, 0x8F, 0x90, 0x9D are no characters in it
    for i, ch in enumerate(text):
        if ord(ch) < 128:
            continue
        before = text[i - 1] if i else " "
        after = text[i + 1] if i + 1 < len(text) else " "
        if ch in _WESTERN_MARKS:
            if ch not in _JOINING_MARKS and before.isalpha() and after.isalpha():
                return None
        elif not ch.isalpha():
            return None
        elif not (before.isalpha() or after.isalpha()) and \
                unicodedata.normalize("NFD", ch)[0] not in "aeiouAEIOU":
            return None  # a letter alone, and not an accented vowel: a stray byte
    letters, foreign = _letters(text)
    if len(foreign) * 3 >= letters:
        return None  # Western languages write most letters in ASCII; Greek or Russian do not
    return text


def _other_script(text: str) -> bool:
    """Whether the text is written in a script other than Latin: at least a third of its
    letters are outside ASCII (the complement of ``_western``'s share) and most of those are
    not Latin. A few stray bytes in English read as Big5 or cp1125 are neither."""
    import unicodedata

    letters, foreign = _letters(text)
    latin = sum(1 for c in foreign if unicodedata.name(c, "").startswith("LATIN"))
    return len(foreign) * 3 >= letters > 0 and latin * 2 < len(foreign)


def _letters(text: str) -> tuple[int, list[str]]:
    """How many letters the text holds, and those of them outside ASCII."""
    letters = [c for c in text if c.isalpha()]
    return len(letters), [c for c in letters if ord(c) >= 128]


def _jsonl_lines(path: Path, max_bytes: int
                 ) -> Iterator[tuple[int, str | ArticleError, str]]:
    """(line number, text, encoding) of each non-blank line, read with bounded memory; a
    line over the limit comes as an ``ArticleError`` in place of its text (and is skipped
    unread)."""
    name = str(path)
    try:
        with path.open("rb") as fh:
            if b"\x00" in fh.read(8192):
                raise ArticleError(name, "binary file (NUL bytes), not text")
            fh.seek(0)
            lineno = 0
            while True:
                raw = fh.readline(max_bytes + 1)
                if not raw:
                    return
                lineno += 1
                if len(raw) > max_bytes and not raw.endswith(b"\n"):
                    while raw and not raw.endswith(b"\n"):  # the rest of the long line
                        raw = fh.readline(max_bytes + 1)
                    yield lineno, ArticleError(name, f"line is over the {max_bytes / 1e6:.1f} "
                                               "MB limit for one article", line=lineno), ""
                    continue
                if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
                    raw = raw[3:]
                if raw.strip():
                    try:
                        text, encoding = _decode(raw, name, lineno)
                    except ArticleError as e:
                        yield lineno, e, ""
                        continue
                    yield lineno, text, encoding
    except OSError as e:
        raise ArticleError(name, _os_reason(e)) from e


def _jsonl_articles(path: Path, max_bytes: int,
                    on_bad_record: Callable[[ArticleError], None] | None) -> Iterator[Article]:
    """A feed's articles. With ``on_bad_record``, a line that cannot be used (invalid JSON,
    no text, an id seen before, too long) is reported to it and skipped, and the other lines
    are read, the way bulk APIs report per-item errors; without it, the first bad line fails
    the whole file before anything is yielded."""
    name = str(path)

    def records() -> Iterator[tuple[int, Article | ArticleError]]:
        for lineno, line, encoding in _jsonl_lines(path, max_bytes):
            if isinstance(line, ArticleError):
                yield lineno, line
                continue
            try:
                obj = json.loads(line)
                article = article_from_object(obj, None, name, lineno)
            except json.JSONDecodeError as e:
                yield lineno, ArticleError(name, f"invalid JSON: {e.msg}", line=lineno)
                continue
            except ArticleError as e:
                yield lineno, e
                continue
            yield lineno, _with(article, path=str(path.resolve()), encoding=encoding)

    # First pass: validate every line, keeping only ids. Second pass: stream the good ones.
    ids: dict[str, int] = {}
    bad: dict[int, ArticleError] = {}
    for lineno, item in records():
        if isinstance(item, Article) and item.id in ids:
            item = ArticleError(name, f"id {item.id!r} appears twice (lines {ids[item.id]} "
                                f"and {lineno})", line=lineno)
        if isinstance(item, ArticleError):
            if on_bad_record is None:
                raise item
            bad[lineno] = item
        else:
            ids[item.id] = lineno
    if not ids and not bad:
        raise ArticleError(name, "file is empty" if path.stat().st_size == 0
                           else "file holds no JSON lines")
    if on_bad_record is not None:  # else ``bad`` is empty: the first one raised
        for lineno in sorted(bad):
            on_bad_record(bad[lineno])
    for lineno, item in records():
        if lineno not in bad and isinstance(item, Article):
            yield item


def _with(article: Article, **changes: Any) -> Article:
    from dataclasses import replace

    return replace(article, **changes)


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


def article_from_object(obj: Any, fallback_id: str | None, name: str,
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


def normalize_date(value: Any, field: str, name: str = "", line: int | None = None) -> str:
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
