"""The ``assistant`` command. With the UI, the only place that turns errors into messages."""

from __future__ import annotations

import gc
import json
import sys
from collections.abc import Callable
from datetime import date
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from assistant.config import Settings
from assistant.errors import AssistantError, InputError

if TYPE_CHECKING:
    from assistant.answer.model import Answer
    from assistant.evaluation.scoring import Fixture

F = TypeVar("F", bound=Callable[..., Any])

# Every CONTRACT §2 variable as an option; None means "leave the environment's value".
_SETTING_OPTIONS = [
    click.option("--index-dir", help="Embedded Chroma store folder [ASSISTANT_INDEX_DIR]."),
    click.option("--chroma-url", help="Chroma server http://host:port [ASSISTANT_CHROMA_URL]."),
    click.option("--collection", help="Collection name [ASSISTANT_COLLECTION]."),
    click.option("--openai-api-key", help="API key [OPENAI_API_KEY]; prefer the variable."),
    click.option("--openai-base-url", help="OpenAI-compatible endpoint [OPENAI_BASE_URL]."),
    click.option("--llm", type=click.Choice(["openai", "extractive"]),
                 help="Answerer [ASSISTANT_LLM]."),
    click.option("--llm-model", help="Chat model name [ASSISTANT_LLM_MODEL]."),
    click.option("--embed-model", help="Embedding model: all-MiniLM-L6-v2 or openai:<name> "
                 "[ASSISTANT_EMBED_MODEL]."),
]


def settings_options(func: F) -> F:
    """Adds the settings options to a command and hands it a ``settings`` argument."""

    @wraps(func)
    def wrapper(**kwargs: Any) -> Any:
        flags = {name: kwargs.pop(name) for name in list(kwargs) if name in _FLAG_NAMES}
        kwargs["settings"] = Settings.load(**flags)
        return func(**kwargs)

    for option in reversed(_SETTING_OPTIONS):
        wrapper = option(wrapper)
    return wrapper  # type: ignore[return-value]


_FLAG_NAMES = {"index_dir", "chroma_url", "collection", "openai_api_key", "openai_base_url",
               "llm", "llm_model", "embed_model"}


def _emit_json(data: object) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Ask questions about news articles; every claim cites an exact quote."""


@cli.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--prune", is_flag=True,
              help="Also remove articles recorded from files under these paths that are gone.")
@click.option("--dry-run", is_flag=True,
              help="Say what would be added, updated and pruned; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary on stdout.")
@click.option("--max-file-mb", type=float, help="Refuse files larger than this [5].")
@settings_options
def ingest(paths: tuple[str, ...], prune: bool, dry_run: bool, as_json: bool,
           max_file_mb: float | None, settings: Settings) -> None:
    """Ingest article files and folders (.txt .md .html .json .jsonl)."""
    from assistant.runtime import Runtime

    if max_file_mb is not None:
        settings = settings.with_(max_file_mb=max_file_mb)
    runtime = Runtime.open(settings)
    report = runtime.ingest(list(paths), prune=prune, progress=not as_json, dry_run=dry_run,
                            on_wait=lambda m: click.echo(m, err=True))
    verb = "would remove" if dry_run else "removed"
    for item in report.pruned:
        click.echo(f"{verb} {item['id']} ({item['path']} is gone or no longer holds it)",
                   err=True)
    for item in report.skipped:
        click.echo(f"skipped {item['path']}: {item['reason']}", err=True)
    for note in report.notes:
        click.echo(f"note: {note}", err=True)
    if as_json:
        _emit_json(report.to_json())
    else:
        click.echo(
            ("dry run, nothing written: " if dry_run else "")
            + f"{report.added} added, {report.updated} updated, {report.unchanged} unchanged, "
            f"{report.removed} removed, {len(report.skipped)} skipped; "
            f"{report.chunks} chunks in the store"
        )
    if report.chunks_written:
        click.echo(
            f"embedded and stored {report.chunks_written} chunks in {report.seconds:.1f} s "
            f"({report.chunks_per_second:.1f} chunks/s)", err=True,
        )
    sys.exit(1 if report.skipped else 0)


@cli.command()
@settings_options
def reindex(settings: Settings) -> None:
    """Rebuild the lexical side index from the store (it is otherwise updated in place)."""
    import time

    from assistant.runtime import Runtime

    runtime = Runtime.open(settings)
    started = time.perf_counter()
    runtime.retriever.lexical.rebuild(runtime.store)
    click.echo(f"indexed {runtime.retriever.lexical.count()} chunks in "
               f"{time.perf_counter() - started:.1f} s", err=True)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout.")
@settings_options
def articles(as_json: bool, settings: Settings) -> None:
    """List the ingested articles."""
    from assistant.index.store import Store

    store = Store.from_settings(settings)
    records = store.articles()
    if as_json:
        _emit_json([
            {"id": r.id, "title": r.title, "date": r.date, "source": r.source, "url": r.url,
             "chunks": r.chunks, "duplicate_of": r.duplicate_of}
            for r in records
        ])
        return
    if not records:
        click.echo("no articles yet: run `assistant ingest PATH`")
    for r in records:
        dup = f"  (copy of {r.duplicate_of})" if r.duplicate_of else ""
        click.echo(f"{r.date or '----------'}  {r.source or '?':<22.22}  {r.title}  "
                   f"[{r.id}, {r.chunks} chunks]{dup}")


@cli.command()
@click.argument("question")
@click.option("--json", "as_json", is_flag=True, help="Print the answer as JSON on stdout.")
@click.option("--top-k", type=click.IntRange(min=1), help="Chunks put before the answerer [5].")
@click.option("--since", help="Only articles dated on or after this day (YYYY-MM-DD).")
@click.option("--until", help="Only articles dated on or before this day (YYYY-MM-DD).")
@click.option("--source", "sources", multiple=True, help="Only articles from this outlet.")
@click.option("--today", help="The day that 'this week', 'yesterday' and 'latest' are read "
              "against (YYYY-MM-DD) [the machine's date].")
@settings_options
def ask(question: str, as_json: bool, top_k: int | None, since: str | None,
        until: str | None, sources: tuple[str, ...], today: str | None,
        settings: Settings) -> None:
    """Answer a question from the ingested articles, with cited quotes."""
    from assistant.index.filters import Filters
    from assistant.ingest.articles import date_window, normalize_date

    if not question.strip():
        raise InputError("the question is empty")
    lo, hi = date_window(since, until)
    filters = Filters(since=lo, until=hi, sources=sources)
    day = date.fromisoformat(normalize_date(today, "--today")) if today else None
    # Only a valid question pays for the models and the store (seconds of imports); the
    # models load on a thread while the main thread imports.
    from assistant.surfaces.preload import load_models

    loading = load_models(settings)
    from assistant.runtime import Runtime

    models = loading.result()
    runtime = Runtime.open(settings, embedder=models.embedder, reader=models.reader)
    if as_json:
        _emit_json(runtime.ask(question, top_k=top_k, filters=filters, today=day).to_json())
        return
    click.echo(f"[{settings.answer_mode} answerer: {settings.answer_mode_reason}]", err=True)
    # The model's draft streams to stderr as it is written; stdout gets the checked answer,
    # which keeps only the sentences a quote supports (see answer/generative.py).
    answer = None
    drafted = False
    for event in runtime.ask_stream(question, top_k=top_k, filters=filters, today=day):
        if isinstance(event, str):
            if not drafted:
                click.echo("draft: ", err=True, nl=False)
                drafted = True
            click.echo(event, err=True, nl=False)
        else:
            answer = event
    assert answer is not None
    if drafted:
        click.echo("\n[checked against the articles:]", err=True)
    click.echo(answer.answer)
    if answer.citations:
        click.echo("")
    for c in answer.citations:
        mark = "" if c.supported else f"  ({c.verdict} support: {c.support_score:.2f})"
        click.echo(f"[{c.n}] {c.source or '?'}, {c.date or 'undated'}: {c.title}{mark}")
        click.echo(f"    “{c.quote}”")
    for text, reason in answer.left_out:
        click.echo(f"left out: “{text}” ({reason})", err=True)
    for note in answer.notes:
        click.echo(f"note: {note}", err=True)


@cli.command(name="eval")
@click.argument("fixtures", type=click.Path(path_type=Path))
@click.option("--json", "json_out", type=click.Path(path_type=Path),
              help="Write the metrics (CONTRACT §5) to this file.")
@click.option("--report", "report_dir", type=click.Path(path_type=Path),
              help="Write a Markdown report with charts to this folder.")
@click.option("--baseline", is_flag=True,
              help="Also run the two llama-index peers (stock dense, plain hybrid) and compare.")
@click.option("--top-k", type=click.IntRange(min=1), help="Chunks put before the answerer [5].")
@click.option("--judge/--no-judge", default=True, show_default=True,
              help="In openai mode, also score faithfulness and correctness with the LLM.")
@settings_options
def eval_command(fixtures: Path, json_out: Path | None, report_dir: Path | None,
                 baseline: bool, top_k: int | None, judge: bool, settings: Settings) -> None:
    """Score answers to FIXTURES.jsonl against the ingested articles."""
    from assistant.evaluation.figures import Metrics
    from assistant.evaluation.report import source_age_table, summary_table, write_report
    from assistant.evaluation.scoring import (
        Outcome,
        by_source_age,
        llm_judge,
        load_fixtures,
        metrics,
        run,
    )
    from assistant.runtime import Runtime

    cases = load_fixtures(fixtures)
    runtime = Runtime.open(settings)
    if not runtime.store.articles():
        raise InputError("the store is empty: ingest the fixtures' articles first")
    notes: list[str] = []
    judged_by = None
    if settings.answer_mode == "openai" and judge:
        judged_by = llm_judge(runtime.generative.chat.llm)
    elif settings.answer_mode == "openai":
        notes.append("LLM-judged metrics skipped (--no-judge)")
    else:
        notes.append("LLM-judged metrics (faithfulness, correctness) skipped: no LLM "
                     "configured")
    runtime.retriever.refresh()  # load the side index and the tagger before the clock starts
    if settings.answer_mode != "openai":
        runtime.tagger  # noqa: B018

    def ask_ours(f: Fixture) -> Answer:
        day = date.fromisoformat(f.asked_on) if f.asked_on else None
        return runtime.ask(f.question, top_k=top_k, today=day)

    ours = run(cases, ask_ours, progress=True, label="ours", judge=judged_by)
    source_dates = {r.id: r.date for r in runtime.store.records(
        [s for f in cases if f.asked_on for s in f.sources]).values()}

    def measured(outcomes: list[Outcome]) -> Metrics:
        out = metrics(outcomes)
        ages = by_source_age(outcomes, source_dates)
        if ages is not None:
            out["by_source_age"] = ages
        return out

    results: dict[str, Metrics] = {"ours": measured(ours)}
    if settings.answer_mode == "openai":
        # The model's answers beside the extractive answerer's, on the same store and run.
        plain = Runtime(settings=settings.with_(llm="extractive"), store=runtime.store,
                        embedder=runtime.embedder, tagger=runtime.tagger,
                        reader=runtime.reader)

        def ask_extractive(f: Fixture) -> Answer:
            day = date.fromisoformat(f.asked_on) if f.asked_on else None
            return plain.ask(f.question, top_k=top_k, today=day)

        results["extractive"] = measured(run(cases, ask_extractive, progress=True,
                                             label="extractive"))
        notes.append(f"ours: the openai answerer ({settings.llm_model}) with our check; "
                     "extractive: the default answerer, same store")
    if baseline:
        from assistant.evaluation.peers import HybridPipeline, StockPipeline

        llm = runtime.generative.chat.llm if settings.answer_mode == "openai" else None
        peer_settings = settings.with_(top_k=top_k) if top_k else settings
        for name, peer_class in (("baseline", StockPipeline), ("hybrid", HybridPipeline)):
            peer = peer_class(runtime.store, runtime.embedder, peer_settings,
                              judge=runtime.quote_answers, llm=llm)
            results[name] = measured(run(cases, _asker(peer.ask), progress=True, label=name,
                                         judge=judged_by))
        notes.append("baseline: llama-index VectorStoreIndex + CitationQueryEngine; hybrid: "
                     "the vector index + BM25Retriever fused by QueryFusionRetriever "
                     "(reciprocal rank); both over the same collection, at the same number "
                     "of chunks as ours; without an LLM a peer's answer is the first two "
                     "sentences of its first chunk")
    click.echo(summary_table(results))
    for line in source_age_table(results):
        click.echo(line)
    for note in notes:
        click.echo(f"note: {note}", err=True)
    if json_out:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        payload = results if baseline else results["ours"]
        json_out.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    if report_dir:
        fitted = runtime.extractive.combination
        path = write_report(report_dir, results, ours, fixtures, notes,
                            threshold=f"{fitted.threshold:.2f} ({fitted.threshold_no_window:.2f} "
                            "where the store holds no report of the days asked about)")
        click.echo(f"report: {path}", err=True)


def _asker(ask: Callable[[str], Answer]) -> Callable[[Fixture], Answer]:
    return lambda fixture: ask(fixture.question)


@cli.command()
@click.argument("corpus", nargs=-1, required=True)
@click.option("--json", "json_out", type=click.Path(path_type=Path), help="Write JSON here.")
@click.option("--articles", default=60, show_default=True,
              help="Benchmark on the first N articles (0: all).")
@click.option("--sizes", default="1000,10000,100000", show_default=True,
              help="Store sizes (chunks) for the latency measures.")
@click.option("--queries", default=40, show_default=True, help="Questions per measure.")
@click.option("--work", type=click.Path(path_type=Path),
              help="Where the scaled stores are built once and kept [INDEX_DIR/bench].")
@settings_options
def bench(corpus: tuple[str, ...], json_out: Path | None, articles: int, sizes: str,
          queries: int, work: Path | None, settings: Settings) -> None:
    """Measure ingestion and answer speed against the raw model and stock llama-index."""
    from assistant.evaluation.bench import run_bench, table

    result = run_bench(list(corpus), settings, work or settings.index_dir / "bench", articles,
                       [int(x) for x in sizes.split(",") if x], queries,
                       lambda line: click.echo(line, err=True))
    click.echo(table(result))
    if json_out:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(result, indent=2) + "\n")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind; a non-loopback address needs --auth or --insecure.")
@click.option("--port", default=7860, show_default=True, type=int)
@click.option("--auth", help="user:password required to open the app [ASSISTANT_AUTH].")
@click.option("--insecure", is_flag=True, help="Allow a public address without a password.")
@settings_options
def serve(host: str, port: int, auth: str | None, insecure: bool, settings: Settings) -> None:
    """Start the web app (Gradio) on 127.0.0.1:7860."""
    from assistant.surfaces.web import serve as run

    if auth:
        settings = settings.with_(auth=auth)
    run(settings, host=host, port=port, insecure=insecure)


def main() -> None:
    try:
        cli(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except InputError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(1)
    except AssistantError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    finally:
        # The command is done: exiting need not walk the millions of objects that
        # llama-index, Chroma and spaCy leave on the heap. Without this the interpreter's
        # last collections take about as long as importing Chroma (docs/decisions.md).
        gc.freeze()
