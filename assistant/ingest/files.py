"""Article files read safely: size limits, encodings guessed and refused when unreadable,
binary files and special files refused, JSON Lines read record by record so one bad record
names its line and spares the rest. Each file goes to its parser in ``articles``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

from assistant.errors import ArticleError
from assistant.ingest.articles import (
    Article,
    article_from_object,
    parse_html,
    parse_json,
    parse_markdown,
    parse_plain,
)

SUFFIXES = {".txt", ".md", ".markdown", ".html", ".htm", ".json", ".jsonl"}
MAX_CHAOS = 0.2  # charset-normalizer's "mess" of its best guess above which we refuse


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
        yield replace(a, path=str(path.resolve()), encoding=encoding,
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
            yield lineno, replace(article, path=str(path.resolve()), encoding=encoding)

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
