"""The Gradio app: a library column, the chat, and an evidence panel. The only module besides
the CLI that turns errors into messages (what it shows is built in ``render``).
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import gradio as gr

from assistant.config import Settings, is_loopback
from assistant.errors import AssistantError, ConfigError
from assistant.index.filters import Filters
from assistant.index.library import Library
from assistant.ingest.articles import date_window
from assistant.ingest.files import SUFFIXES
from assistant.ingest.report import IngestReport
from assistant.ingest.uploads import UploadsOnly, discard, upload_problem
from assistant.llm.local import served_here
from assistant.runtime import Runtime
from assistant.surfaces.render import (
    CSS,
    EXAMPLE_COUNT,
    SHOW_ANSWER_START,
    escape_md,
    escape_md_keeping_urls,
    example_questions,
    ingest_summary,
    render_answer,
    render_evidence,
    render_library,
    shown_name,
    skipped_files,
)

_log = logging.getLogger(__name__)


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

    def browse(self, query: str = "", page: float = 1) -> tuple[str, object, int]:
        """The library table for a search and page, the remove control's choices (the same
        articles), and the page shown."""
        view = self.library.page(query or "", int(page or 1))
        choices = [(f"{r.title[:60]} ({r.id})", r.id) for r in view.records]
        return render_library(view), gr.update(choices=choices, value=None), view.page

    def refresh(self, query: str = "", page: float = 1
                ) -> tuple[str, str, object, int, object]:
        table, pick, shown = self.browse(query, page)
        samples = [[q] for q in example_questions(self.library.records(),
                                                       self.runtime.tagger)]
        return self.status(), table, pick, shown, gr.update(samples=samples)

    def ingest_uploads(self, files: Sequence[object] | None
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

    def upload(self, files: Sequence[object] | None, query: str = "", page: float = 1,
               ) -> tuple[object, ...]:
        """The upload button: the summary, every problem (for its button), the library."""
        summary, problems = ingest_summary(*self.ingest_uploads(files))
        return (summary, problems, *self.refresh(query, page))

    def ingest_api(self, files: Sequence[object] | None) -> dict[str, object]:
        """``/ingest`` for scripts (gradio_client): the summary and every count and problem."""
        report, refused = self.ingest_uploads(files)
        summary, _ = ingest_summary(report, refused)
        return {"summary": summary, **report.to_json(),
                "skipped": [{"file": name, "reason": why}
                            for name, why in skipped_files(report, refused)],
                "updated_ids": report.updated_ids,
                "notes": [shown_name(n) for n in report.notes]}

    def remove(self, article_id: str | None, query: str = "", page: float = 1
               ) -> tuple[object, ...]:
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

    def respond(self, message: str, chat: list[dict[str, str]], turns: list[list[str]],
                top_k: float, since: str, until: str) -> Iterator[tuple[object, ...]]:
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
                ) -> dict[str, object]:
        """One question, the CONTRACT §3 answer object back (for gradio_client)."""
        try:
            answer = self.runtime.ask(question, int(top_k), self.filters(since, until))
        except AssistantError as e:
            raise gr.Error(str(e)) from None
        except Exception as e:
            _log.exception("answering %r failed", question)
            raise gr.Error(_internal(e)) from None
        return answer.to_json()


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

    from assistant.surfaces.api import build_api

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
