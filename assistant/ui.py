"""The Gradio app: a library column, the chat, and an evidence panel. The only module besides
the CLI that turns errors into messages.

Nothing from an article or an answer reaches the page as markup: chat text is HTML-escaped
and Markdown-escaped before Gradio renders it, and the evidence panel is HTML we build with
every piece of article text escaped.
"""

from __future__ import annotations

import html
import logging
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import gradio as gr

from .answer.model import MARKER, Answer, Citation
from .articles import SUFFIXES, date_window
from .config import Settings, is_loopback
from .entities import EntityTagger
from .errors import AssistantError, ConfigError
from .filters import Filters
from .ingest import IngestReport
from .library import Library, LibraryPage
from .local_llm import served_here
from .runtime import Runtime
from .uploads import UploadsOnly, discard, upload_problem

EXAMPLE_COUNT = 4
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")

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


def example_questions(records: list[Any], tagger: EntityTagger,
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
    notes = [f"note: {_shown_name(n)}" for n in report.notes]
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


def _shown_name(note: str) -> str:
    """A note names its file by the upload's full temp path; a person knows it by name."""
    path, sep, rest = note.partition(": ")
    return f"{Path(path).name}: {rest}" if sep else note


_log = logging.getLogger("assistant.ui")


def _internal(e: Exception, what: str = "the question was not answered") -> str:
    return (f"Something went wrong on our side ({type(e).__name__}); {what}. The app keeps "
            "running; the details are in its log.")

class App:
    """The handlers, over one shared ``Runtime``."""

    def __init__(self, runtime: Runtime, uploads: Path) -> None:
        self.runtime = runtime
        self.uploads = uploads  # the only folder ingest reads from (assistant.uploads)
        self.library = Library(runtime.store)
        s = runtime.settings
        # A model of ours on this machine's CPU answers one question at a time: the others
        # wait in a queue the page shows, not in a pile of half-speed generations.
        self.local = (served_here(s.llm_model, s.openai_base_url)
                      if s.answer_mode == "openai" else None)

    # ---------------------------------------------------------------- status and library

    def status(self) -> str:
        s = self.runtime.settings
        count = self.library.count()
        if self.local is not None:
            model = (f" ({self.local.title}, {self.local.size}, on this machine's CPU; one "
                     "question at a time, the others queue)")
        else:
            model = f" ({s.llm_model})" if s.answer_mode == "openai" else ""
        return (f"**Answerer:** {escape_md(s.answer_mode + model)} — "
                f"{escape_md_keeping_urls(s.answer_mode_reason)} · "
                f"**Embeddings:** {escape_md(s.embed_model)}"
                f" · **Store:** {escape_md(s.store_label)} · **Articles:** {count:,}")

    def browse(self, query: str = "", page: float = 1) -> tuple[str, Any, int]:
        """The library table for a search and page, the remove control's choices (the same
        articles), and the page shown."""
        view = self.library.page(query or "", int(page or 1))
        choices = [(f"{r.title[:60]} ({r.id})", r.id) for r in view.records]
        return render_library(view), gr.update(choices=choices, value=None), view.page

    def refresh(self, query: str = "", page: float = 1) -> tuple[str, str, Any, int, Any]:
        table, pick, shown = self.browse(query, page)
        samples = [[q] for q in example_questions(self.library.records(),
                                                       self.runtime.tagger)]
        return self.status(), table, pick, shown, gr.update(samples=samples)

    def ingest_uploads(self, files: list[Any] | None
                       ) -> tuple[IngestReport, list[tuple[str, str]]]:
        """Ingests the files uploaded to the app (anything else is refused, with its name and
        the reason), then deletes them; the report and the refused (name, reason) pairs."""
        if not files:
            raise gr.Error("Choose one or more files to ingest first.")
        given = [str(getattr(f, "name", None) or getattr(f, "path", None) or f) for f in files]
        refused: list[tuple[str, str]] = []
        accepted: list[Path] = []
        for path in given:
            problem = upload_problem(path, self.uploads)
            if problem is None:
                accepted.append(Path(path))
            else:
                refused.append((Path(path).name or path, problem))
        try:
            report = self.runtime.ingest(accepted, progress=True) if accepted else IngestReport(
                chunks=self.runtime.store.chunk_count())
        except AssistantError as e:
            raise gr.Error(str(e)) from None
        except Exception as e:  # a bug of ours: a message, never {"error": null}
            _log.exception("ingesting %d uploaded files failed", len(accepted))
            raise gr.Error(_internal(e, "the files were not ingested")) from None
        finally:
            for path in given:
                discard(path, self.uploads)  # ingested or refused, an upload is not kept
        return report, refused

    def upload(self, files: list[Any] | None, query: str = "", page: float = 1,
               ) -> tuple[Any, ...]:
        """The upload button: the summary, every problem (for its button), the library."""
        summary, problems = ingest_summary(*self.ingest_uploads(files))
        return (summary, problems, *self.refresh(query, page))

    def ingest_api(self, files: list[Any] | None) -> dict[str, Any]:
        """``/ingest`` for scripts (gradio_client): the summary and every count and problem."""
        report, refused = self.ingest_uploads(files)
        summary, _ = ingest_summary(report, refused)
        return {"summary": summary, **report.to_json(),
                "skipped": [{"file": name, "reason": why}
                            for name, why in skipped_files(report, refused)],
                "updated_ids": report.updated_ids,
                "notes": [_shown_name(n) for n in report.notes]}

    def remove(self, article_id: str | None, query: str = "", page: float = 1
               ) -> tuple[Any, ...]:
        if not article_id:
            raise gr.Error("Choose an article to remove.")
        try:
            self.runtime.remove(article_id)
        except AssistantError as e:
            raise gr.Error(str(e)) from None
        return (f"removed {article_id}", *self.refresh(query, page))

    # ---------------------------------------------------------------- asking

    @staticmethod
    def filters(since: str | None, until: str | None) -> Filters:
        try:
            lo, hi = date_window(since, until, ("from", "to"))
            return Filters(since=lo, until=hi)
        except AssistantError as e:
            raise gr.Error(f"Date range: {e}") from None

    def respond(self, message: str, chat: list[dict[str, Any]], turns: list[list[str]],
                top_k: float, since: str, until: str) -> Iterator[tuple[Any, ...]]:
        message = (message or "").strip()
        if not message:
            yield chat, turns, gr.skip(), ""
            return
        chat = [*chat, {"role": "user", "content": escape_md(message)},
                {"role": "assistant", "content": "…"}]
        yield chat, turns, gr.skip(), ""
        filters = self.filters(since, until)
        streamed = ""
        try:
            for event in self.runtime.ask_stream(message, int(top_k), filters,
                                                 [(q, a) for q, a in turns]):
                if isinstance(event, str):
                    streamed += event
                    chat[-1] = {"role": "assistant",
                                "content": "<sub>draft, being checked against the articles:"
                                           "</sub>\n\n" + escape_md(streamed) + " ▌"}
                    yield chat, turns, gr.skip(), ""
                else:
                    answer = event
            texts = self.runtime.store.article_texts([c.article_id for c in answer.citations])
        except AssistantError as e:
            chat[-1] = {"role": "assistant", "content": "⚠ " + escape_md(str(e))}
            yield chat, turns, gr.skip(), ""
            return
        except Exception as e:  # a bug of ours: a message, never a stuck "…" bubble
            _log.exception("answering %r failed", message)
            chat[-1] = {"role": "assistant", "content": "⚠ " + escape_md(_internal(e))}
            yield chat, turns, gr.skip(), ""
            return
        chat[-1] = {"role": "assistant", "content": render_answer(answer)}
        turns = [*turns, [answer.standalone_question or message, answer.answer]]
        yield chat, turns, render_evidence(answer, texts), ""

    def ask_api(self, question: str, top_k: float = 5, since: str = "", until: str = ""
                ) -> dict[str, Any]:
        """One question, the CONTRACT §3 answer object back (for gradio_client)."""
        try:
            answer = self.runtime.ask(question, int(top_k), self.filters(since, until))
        except AssistantError as e:
            raise gr.Error(str(e)) from None
        except Exception as e:
            _log.exception("answering %r failed", question)
            raise gr.Error(_internal(e)) from None
        return answer.to_json()


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


def build(runtime: Runtime, uploads: Path) -> gr.Blocks:
    app = App(runtime, uploads)
    # Anything left in the upload folder (an upload never ingested, an aborted transfer) is
    # swept within two hours; ingested and refused uploads are deleted at once.
    with gr.Blocks(title="News assistant", delete_cache=(3600, 3600)) as demo:
        turns = gr.State([])
        gr.Markdown("## News assistant\nAsk about the ingested articles. Every claim cites "
                    "an exact quote; when the articles don't say, neither does the assistant.")
        status = gr.Markdown(app.status(), elem_id="status")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=280):
                gr.Markdown("### Library")
                with gr.Row():
                    search = gr.Textbox(placeholder="Search titles, outlets, dates…",
                                        show_label=False, scale=4, elem_id="lib-search")
                    prev_btn = gr.Button("◀", size="sm", scale=0, min_width=40,
                                         elem_id="lib-prev")
                    next_btn = gr.Button("▶", size="sm", scale=0, min_width=40,
                                         elem_id="lib-next")
                page = gr.Number(value=1, visible=False, precision=0)
                table = gr.HTML(render_library(app.library.page()), elem_id="library")
                files = gr.File(label="Add articles (.txt .md .html .json .jsonl)",
                                file_count="multiple", file_types=sorted(SUFFIXES),
                                elem_id="upload")
                ingest_btn = gr.Button("Ingest files", variant="secondary", elem_id="ingest")
                ingest_log = gr.Textbox(label="Ingestion", lines=2, max_lines=14,
                                        interactive=False, elem_id="ingest-log")
                problems = gr.State("")
                every_btn = gr.Button("Every problem", size="sm", elem_id="every-problem")
                with gr.Row():
                    pick = gr.Dropdown(label="Remove an article (search above to find it)",
                                       choices=[], scale=3, elem_id="remove-pick")
                    remove_btn = gr.Button("Remove", variant="stop", scale=1, min_width=80)
            with gr.Column(scale=5, min_width=420):
                chatbot = gr.Chatbot(label="Chat", height=520, elem_id="chat",
                                     sanitize_html=True, allow_tags=False, render_markdown=True,
                                     buttons=["copy"],
                                     placeholder="Ask about the articles, or pick an example.")
                with gr.Row():
                    box = gr.Textbox(placeholder="Ask a question about the articles…",
                                     show_label=False, scale=5, elem_id="question",
                                     submit_btn=False, autofocus=True)
                    send = gr.Button("Ask", variant="primary", scale=1, min_width=80,
                                     elem_id="ask")
                start = [[q] for q in example_questions(app.library.records(), runtime.tagger)]
                examples = gr.Dataset(components=[box], samples=start, label="Try asking",
                                      elem_id="examples", samples_per_page=EXAMPLE_COUNT)
                with gr.Accordion("Search settings", open=False), gr.Row():
                    top_k = gr.Slider(1, 20, value=runtime.settings.top_k, step=1,
                                      label="Passages (top-k)")
                    since = gr.Textbox(label="From date", placeholder="YYYY-MM-DD")
                    until = gr.Textbox(label="To date", placeholder="YYYY-MM-DD")
                clear = gr.Button("New conversation", size="sm")
            with gr.Column(scale=4, min_width=320):
                gr.Markdown("### Sources")
                evidence = gr.HTML(render_evidence(None, {}), elem_id="evidence")

        ask_inputs = [box, chatbot, turns, top_k, since, until]
        ask_outputs = [chatbot, turns, evidence, box]
        limit: int | Literal["default"] = 1 if app.local else "default"
        for trigger in (box.submit, send.click):
            # A long answer opens at its first line: the chat follows the draft down while
            # it streams, then goes back to where the answer starts.
            trigger(app.respond, ask_inputs, ask_outputs, api_visibility="private",
                    concurrency_limit=limit, concurrency_id="chat"
                    ).then(None, None, None, js=SHOW_ANSWER_START, api_visibility="private")
        clear.click(lambda: ([], [], render_evidence(None, {})), None,
                    [chatbot, turns, evidence], api_visibility="private")

        # Gradio reads the progress tracker from the default value, so it must be a call.
        def upload(files: list[Any] | None, query: str, shown: float,
                   progress: gr.Progress = gr.Progress(track_tqdm=True),  # noqa: B008
                   ) -> tuple[Any, ...]:
            return app.upload(files, query, shown)

        listing = [status, table, pick, page, examples]
        ingest_btn.click(upload, [files, search, page], [ingest_log, problems, *listing],
                         api_visibility="private")
        every_btn.click(lambda text: text, [problems], [ingest_log], api_visibility="private")
        remove_btn.click(app.remove, [pick, search, page], [ingest_log, *listing],
                         api_visibility="private")
        demo.load(app.refresh, [search, page], listing, api_visibility="private")
        search.submit(lambda q: app.browse(q, 1), [search], [table, pick, page],
                      api_visibility="private")
        prev_btn.click(lambda q, n: app.browse(q, n - 1), [search, page], [table, pick, page],
                       api_visibility="private")
        next_btn.click(lambda q, n: app.browse(q, n + 1), [search, page], [table, pick, page],
                       api_visibility="private")
        examples.click(lambda sample: sample[0], [examples], [box], api_visibility="private")

        # The API for gradio_client: Client(url).predict("question", 5, "", "", api_name="/ask")
        api_q = gr.Textbox(visible=False)
        api_k = gr.Number(visible=False, value=runtime.settings.top_k)
        api_since = gr.Textbox(visible=False)
        api_until = gr.Textbox(visible=False)
        api_out = gr.JSON(visible=False)
        api_btn = gr.Button(visible=False)
        api_btn.click(app.ask_api, [api_q, api_k, api_since, api_until], api_out,
                      api_name="ask")
        # Client(url).predict([handle_file(path), ...], api_name="/ingest"): a JSON report.
        api_files = gr.File(visible=False, file_count="multiple")
        api_report = gr.JSON(visible=False)
        api_ingest = gr.Button(visible=False)
        api_ingest.click(app.ingest_api, [api_files], api_report, api_name="ingest")
    return demo


def parse_auth(value: str | None) -> tuple[str, str] | None:
    if not value:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise ConfigError("--auth / ASSISTANT_AUTH must look like user:password")
    return user, password


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 7860,
          insecure: bool = False, concurrency: int = 8) -> None:
    auth = parse_auth(settings.auth)
    if not is_loopback(host) and auth is None and not insecure:
        raise ConfigError(
            f"refusing to serve on {host} without a password: anyone on the network could "
            "read and change the library. Pass --auth user:password (or set ASSISTANT_AUTH), "
            "or --insecure if that is really what you want."
        )
    uploads = upload_folder(settings)
    runtime = Runtime.open(settings)
    runtime.embedder  # noqa: B018  (load the model before the first question, not during it)
    demo = build(runtime, uploads)
    demo.queue(default_concurrency_limit=concurrency)
    # One process and port for the chat and the OpenAI-compatible API (assistant.api):
    # Gradio mounts on the API's FastAPI app, both behind the same password.
    import uvicorn

    from .api import build_api

    app = build_api(runtime, auth[1] if auth else None)
    app = gr.mount_gradio_app(app, demo, path="", auth=auth, show_error=False, css=CSS,
                              theme=gr.themes.Soft(), footer_links=["api"],
                              server_name=host, server_port=port,
                              # A file over the ingest limit is refused before it is sent.
                              max_file_size=int(settings.max_file_mb * 1_000_000))
    print(f"* Running on http://{host}:{port} (chat) and http://{host}:{port}/v1 "
          "(OpenAI-compatible API)", flush=True)
    # Open chat streams must not hold a stop (SIGTERM, Ctrl-C) for ever.
    uvicorn.run(UploadsOnly(app, uploads), host=host, port=port, log_level="warning",
                timeout_graceful_shutdown=3)


def upload_folder(settings: Settings) -> Path:
    """The folder uploads arrive in, made private to this user. Gradio's upload route and
    cache read it from ``GRADIO_TEMP_DIR`` (its documented setting), so it is set here, in
    the process's entry point, before any Gradio block exists."""
    folder = settings.upload_dir or (Path(tempfile.gettempdir())
                                     / f"news-assistant-uploads-{os.getuid()}")
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.environ["GRADIO_TEMP_DIR"] = str(folder)
    return folder.resolve()
