"""What the web app shows, as text: answers, citations with their context, the library
page, ingest summaries, example questions.

Nothing from an article or an answer reaches the page as markup: chat text is HTML-escaped
and Markdown-escaped before Gradio renders it, and the evidence panel is HTML we build with
every piece of article text escaped.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from pathlib import Path

from assistant.answer.model import MARKER, Answer, Citation
from assistant.index.library import LibraryPage
from assistant.index.records import ArticleRecord
from assistant.ingest.report import IngestReport
from assistant.query.entities import EntityTagger

EXAMPLE_COUNT = 4
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")


def escape_md(text: str) -> str:
    """Text that Gradio's Markdown renderer shows exactly as written."""
    return _MD_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))


_URL = re.compile(r"https?://[^\s)`]+")


def escape_md_keeping_urls(text: str) -> str:
    """``escape_md``, but a URL becomes a code span: the renderer would make it a link and
    show the escapes inside it."""
    out, last = [], 0
    for m in _URL.finditer(text):
        out += [escape_md(text[last : m.start()]), f"`{m.group(0)}`"]
        last = m.end()
    return "".join([*out, escape_md(text[last:])])


def render_answer(answer: Answer) -> str:
    """The chat message: escaped answer text whose [n] markers link to the evidence panel."""
    if answer.abstained:
        body = "**The articles don't say.** " + escape_md(
            "None of the ingested articles answers this question"
            + (", so there is nothing to cite." if answer.retrieved else
               " (no article matched the question and the filters)."))
    else:
        by_n = {c.n: c for c in answer.citations}
        parts = []
        last = 0
        for m in MARKER.finditer(answer.answer):
            parts.append(escape_md(answer.answer[last : m.start()]))
            n = int(m.group(1))
            flag = "" if by_n.get(n) and by_n[n].supported else " ⚠"
            parts.append(f"[\\[{n}{flag}\\]](#src-{n})")
            last = m.end()
        parts.append(escape_md(answer.answer[last:]))
        body = "".join(parts)
    footer = [f"{answer.mode} answer", f"{len(answer.citations)} citations",
              f"{answer.timings_ms.get('total', 0):.0f} ms"]
    if answer.standalone_question and answer.standalone_question != answer.question:
        footer.append("read as: " + answer.standalone_question)
    notes = "".join(f"\n\n⚠ {escape_md(n)}" for n in answer.notes)
    if answer.left_out:
        # The model's sentences no quote supports: not part of the answer, listed so the
        # reader sees what was removed and why.
        notes += "\n\n<details><summary>Left out of the model's answer: " + \
            f"{len(answer.left_out)}</summary>\n\n" + "\n".join(
                f"- ~~{escape_md(text)}~~ ({escape_md(reason)})"
                for text, reason in answer.left_out) + "\n\n</details>"
    return f"{body}{notes}\n\n<sub>{escape_md(' · '.join(footer))}</sub>"


def _context(text: str, start: int, end: int, span: int = 320) -> tuple[int, int]:
    """The paragraph around a quote, or a window cut at sentence ends when paragraphs are long."""
    left = text.rfind("\n\n", 0, start)
    right = text.find("\n\n", end)
    left = 0 if left < 0 else left + 2
    right = len(text) if right < 0 else right
    if start - left > span:
        cut = text.rfind(". ", left, start - span)
        left = cut + 2 if cut >= 0 else start - span
    if right - end > span:
        cut = text.find(". ", end + span)
        right = cut + 1 if cut >= 0 else end + span
    return left, right


def render_citation(c: Citation, article_text: str | None) -> str:
    meta = " · ".join(x for x in (c.source, c.date) if x)
    verbatim = article_text is not None and article_text[c.start : c.end] == c.quote
    # Two separate checks: the quote is the article's own words (verbatim), and it backs
    # the sentence it is cited for (a score and a verdict; weak support is shown as weak).
    verdict = ('<span class="src-ok" title="the quote is the article\'s own text">'
               '✓ verbatim</span>' if verbatim else
               '<span class="src-warn">⚠ quote not found in the article</span>')
    label = {"supported": ("src-ok", "supports the answer"),
             "weak": ("src-warn", "⚠ weak support"),
             "unsupported": ("src-bad", "✗ does not support the sentence")}[c.verdict]
    verdict += (f'<span class="{label[0]}" title="support score">{label[1]} '
                f"({c.support_score:.2f})</span>")
    if verbatim and article_text is not None:
        left, right = _context(article_text, c.start, c.end)
        para = (("… " if left > 0 else "") + html.escape(article_text[left : c.start])
                + "<mark>" + html.escape(c.quote) + "</mark>"
                + html.escape(article_text[c.end : right]) + (" …" if right < len(article_text)
                                                              else ""))
    else:
        para = "<mark>" + html.escape(c.quote) + "</mark>"
    return (f'<div class="src" id="src-{c.n}"><div class="src-head">'
            f'<span class="src-n">{c.n}</span><span class="src-title">{html.escape(c.title)}'
            f'</span><span class="src-meta">{html.escape(meta)}</span>{verdict}</div>'
            f"<p>{para}</p></div>")


def render_evidence(answer: Answer | None, texts: dict[str, str]) -> str:
    if answer is None:
        return ('<div class="evidence-empty">Sources appear here: each citation with its '
                "outlet, date and the quote highlighted in its paragraph.</div>")
    if answer.abstained or not answer.citations:
        return ('<div class="evidence-empty">No citations: the articles do not answer this '
                "question.</div>")
    out = []
    for conflict in answer.conflicts:
        versions = "".join(f"<li>{html.escape(text)} "
                           + " ".join(f'<a href="#src-{n}">[{n}]</a>' for n in nums) + "</li>"
                           for text, nums in conflict.claims)
        out.append(f'<div class="src conflict"><div class="src-head"><span class="src-warn">'
                   f"⚠ the sources disagree: {html.escape(conflict.topic)}</span></div>"
                   f"<ul>{versions}</ul></div>")
    shown: set[str] = set()
    for c in answer.citations:
        out.append(render_citation(c, texts.get(c.article_id)))
        copies = answer.copies.get(c.article_id)
        if copies and c.article_id not in shown:
            shown.add(c.article_id)
            out.append('<div class="src-copies">Also published as: '
                       + html.escape("; ".join(copies)) + "</div>")
    return "".join(out)


# Names a reader asks about; nationalities ("British") and dates are not what a story is about.
_EXAMPLE_NAMES = frozenset({"PERSON", "ORG", "GPE", "LOC", "FAC", "EVENT", "PRODUCT",
                            "WORK_OF_ART"})


def example_questions(records: Sequence[ArticleRecord], tagger: EntityTagger,
                      n: int = EXAMPLE_COUNT) -> list[str]:
    """Questions about the newest stories in the library (one per story, copies skipped),
    as a reader opening the app would ask them: what the outlet reported about the first
    two names of the headline ("What did Jiji Press report about Sanae Takaichi and Keir
    Starmer?"), or about its first noun phrases when it names no one."""
    newest = sorted((r for r in records if not r.duplicate_of),
                    key=lambda r: (r.date or "", r.id), reverse=True)[: 4 * n]
    titles = [r.title.rstrip("….!? ") for r in newest]
    out: list[str] = []
    for r, names, nouns in zip(newest, tagger.tag(titles), tagger.nouns(titles),
                               strict=True):
        outlet = r.source or ""
        about = list(dict.fromkeys(e.text for e in names if e.label in _EXAMPLE_NAMES
                                   and e.text.lower() not in outlet.lower()))[:2]
        if not about:
            about = [f"the {e.text}" for e in nouns if len(e.text.split()) > 1][:1]
        if not about:
            continue
        # An outlet known only by its web host ("www.usatoday.com") is not said aloud.
        asked = (f"What did {outlet} report" if outlet and (" " in outlet or "." not in outlet)
                 else "What was reported")
        question = f"{asked} about {' and '.join(about)}?"
        if question not in out:
            out.append(question)
        if len(out) == n:
            break
    return out


def render_library(view: LibraryPage) -> str:
    if not view.total:
        return '<div class="evidence-empty">No articles yet: add some below.</div>'
    if not view.records:
        return (f'<div class="evidence-empty">No article of the {view.total:,} matches '
                f"“{html.escape(view.query)}”.</div>")
    rows = "".join(
        f"<tr><td class='lib-title'>{html.escape(r.title)}"
        f"{' <span class=lib-dup>copy</span>' if r.duplicate_of else ''}</td>"
        f"<td>{html.escape(r.date or '—')}</td><td>{html.escape(r.source or '—')}</td>"
        f"<td class='lib-n'>{r.chunks}</td></tr>"
        for r in view.records)
    shown = f"{view.first:,}–{view.first + len(view.records) - 1:,} of {view.matching:,}"
    if view.query:
        shown += f" matching “{html.escape(view.query)}” ({view.total:,} in all)"
    return (f"<div class='lib-count'>{shown} · page {view.page} of {view.pages}</div>"
            "<table class='lib'><thead><tr><th>Title</th><th>Date</th><th>Outlet</th>"
            f"<th>Chunks</th></tr></thead><tbody>{rows}</tbody></table>")


def ingest_summary(report: IngestReport, refused: list[tuple[str, str]], shown: int = 10
                   ) -> tuple[str, str]:
    """The reply to an upload (counts, what was updated, the first problems) and the full
    list of problems, for the "every problem" button."""
    problems = [f"skipped {name}: {reason}" for name, reason in skipped_files(report, refused)]
    notes = [f"note: {shown_name(n)}" for n in report.notes]
    lines = [f"{report.added} added, {report.updated} updated, {report.unchanged} unchanged, "
             f"{len(problems)} skipped · {report.chunks} chunks in the store"]
    lines += [f"updated {a}: the new upload replaces the earlier version"
              for a in report.updated_ids[:shown]]
    if len(report.updated_ids) > shown:
        lines.append(f"… and {len(report.updated_ids) - shown:,} more updated")
    rest = problems + notes
    lines += rest[:shown]
    if len(rest) > shown:
        lines.append(f"… and {len(rest) - shown:,} more: press “Every problem” to see them all")
    return "\n".join(lines), "\n".join(rest) or "No problems: every file was read."


def skipped_files(report: IngestReport, refused: list[tuple[str, str]]
                  ) -> list[tuple[str, str]]:
    """(file name, reason) of every file not ingested: refused as no upload, or skipped."""
    return refused + [(Path(s["path"]).name, s["reason"]) for s in report.skipped]


def shown_name(note: str) -> str:
    """A note names its file by the upload's full temp path; a person knows it by name."""
    path, sep, rest = note.partition(": ")
    return f"{Path(path).name}: {rest}" if sep else note


CSS = """
.gradio-container {max-width: 1500px !important}
#status {font-size: 0.9em; opacity: 0.85}
#evidence {max-height: 640px; overflow-y: auto}
.src {border: 1px solid var(--border-color-primary); border-radius: 10px; padding: 10px 12px;
      margin-bottom: 10px; background: var(--background-fill-secondary)}
.src-head {font-size: 0.85em; margin-bottom: 6px; display: flex; gap: 6px; flex-wrap: wrap;
           align-items: baseline}
.src-n {background: var(--color-accent); color: white; border-radius: 6px; padding: 0 6px;
        font-weight: 600}
.src-title {font-weight: 600}
.src-meta {opacity: 0.75}
.src-ok {color: #15803d; font-weight: 600}
.src-warn {color: #b45309; font-weight: 600}
.src-bad {color: #b91c1c; font-weight: 600}
.src p {margin: 0; line-height: 1.5; font-size: 0.92em}
.src mark {background: #fde68a; color: inherit; padding: 0 2px; border-radius: 3px}
.evidence-empty {opacity: 0.7; font-style: italic}
.src-copies {font-size: 0.8em; opacity: 0.8; margin: -6px 0 10px 8px}
.conflict ul {margin: 4px 0 0 18px; font-size: 0.9em}
#library {max-height: 340px; overflow-y: auto}
table.lib {width: 100%; border-collapse: collapse; font-size: 0.82em}
table.lib th {text-align: left; opacity: 0.7; font-weight: 600; padding: 4px;
              border-bottom: 1px solid var(--border-color-primary)}
table.lib td {padding: 5px 4px; vertical-align: top;
              border-bottom: 1px solid var(--border-color-primary)}
table.lib td.lib-title {font-weight: 500}
table.lib td.lib-n {text-align: right}
.lib-count {font-size: 0.8em; opacity: 0.75; margin-bottom: 4px}
.lib-dup {font-size: 0.8em; background: #e0e7ff; border-radius: 4px; padding: 0 4px}
"""


# Run once the chat has rendered the checked answer and followed it down (Gradio scrolls a
# chat to its end after each update): then back to where the answer starts.
SHOW_ANSWER_START = """() => {
  const show = () => {
    const wrap = document.querySelector('#chat .bubble-wrap');
    const rows = document.querySelectorAll('#chat .message-row.bot-row');
    const last = rows[rows.length - 1];
    if (!wrap || !last) return;
    const top = last.getBoundingClientRect().top - wrap.getBoundingClientRect().top;
    wrap.scrollTop = Math.max(0, wrap.scrollTop + top - 8);
  };
  setTimeout(show, 150);
  setTimeout(show, 600);
}"""
