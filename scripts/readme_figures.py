"""The README's table of current figures, written from the measurements in the repository.

    .venv/bin/python scripts/readme_figures.py          # rewrite the table in README.md
    .venv/bin/python scripts/readme_figures.py --check  # exit 1 if README.md differs

Reads ``docs/eval/{news,essays,seeds,negatives}.json`` (``assistant eval … --baseline``),
``docs/eval/llm-{seeds,essays,news}.json`` (``assistant eval … --llm openai`` against
``./dev llm``), ``docs/bench.json`` (``assistant bench``) and ``docs/ask_start.json``
(``scripts/measure_ask_start.py``), and writes the table between
the README's two ``<!-- figures -->`` markers, so that no figure there is typed by hand and
none can outlive the run it came from (the test suite runs ``--check``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
EVAL = ROOT / "docs" / "eval"
MARK = "<!-- figures -->"
SETS = ("news", "essays", "seeds", "negatives")


def _load(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.exists() else None


def _f(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _ms(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value / 1000:.1f} s" if value >= 1000 else f"{value:.0f} ms"


def _row(name: str, label: str, m: dict[str, Any]) -> str:
    """One runner's figures on one set (``m``: the metrics ``assistant eval`` writes)."""
    return (f"| {name} ({m['n']}) | {label} | {_f(m['retrieval'].get('hit@5'))} "
            f"| {_f(m['answer'].get('fact_recall'))} | {_f(m['citations'].get('supported'))} "
            f"| {_f(m['abstention'].get('false_answer'))} "
            f"| {_f(m['abstention'].get('false_abstain'))} "
            f"| {_ms(m.get('latency_ms', {}).get('p50'))} |")


def quality_rows() -> list[str]:
    rows = ["| set (questions) | runner | top-5 article | facts stated | citations supported "
            "| false answers | false abstentions | p50 |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name in SETS:
        data = _load(EVAL / f"{name}.json")
        if data is None:
            continue
        for runner, label in (("ours", "ours, extractive"), ("baseline", "llama-index stock"),
                              ("hybrid", "llama-index hybrid")):
            m = data.get(runner)
            if m is None:
                continue
            rows.append(_row(name, label, m))
    for name in ("seeds", "essays", "news"):
        data = _load(EVAL / f"llm-{name}.json")
        if data is None:
            continue
        m = data.get("ours", data)  # a run without --baseline writes its metrics alone
        model = m.get("model", {})
        own = model.get("own_answers")
        label = "Qwen 1.5B + check" + (f" ({own} answers in its own words)" if own is not None
                                       else "")
        rows.append(_row(name, label, m))
    return rows


def speed_rows() -> list[str]:
    bench = _load(ROOT / "docs" / "bench.json")
    if bench is None:
        return []
    at = bench.get("at_chunks")
    return [
        "| speed (`assistant bench`, 2 cores) | figure |",
        "| --- | --- |",
        f"| ingestion, chunks a second (share of the raw model's speed) "
        f"| {bench['ingest_chunks_per_s']:.1f} ({bench['ratio']:.2f}; llama-index's stock "
        f"pipeline {bench['stock_ingest_chunks_per_s']:.1f}) |",
        f"| extractive answer at {at:,} chunks, p50 / p95 | {_ms(bench['answer_ms']['p50'])} / "
        f"{_ms(bench['answer_ms']['p95'])} |",
        f"| retrieval at {at:,} chunks, p50 / p95 | {_ms(bench['retrieve_ms']['p50'])} / "
        f"{_ms(bench['retrieve_ms']['p95'])} |",
        *ask_start_rows(),
    ]


def ask_start_rows() -> list[str]:
    start = _load(ROOT / "docs" / "ask_start.json")  # scripts/measure_ask_start.py
    if start is None:
        return []
    return [f"| a fresh `assistant ask` on the seeds, to its answer (median of "
            f"{len(start['ask_runs_s'])}) | {start['ask_s']:.1f} s (a process importing "
            f"llama-index and spaCy alone: {start['imports_only_s']:.1f} s) |"]


def table() -> str:
    return "\n".join([*quality_rows(), "", *speed_rows()])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    text = README.read_text()
    head, sep, rest = text.partition(MARK)
    _, sep2, tail = rest.partition(MARK)
    if not sep or not sep2:
        sys.exit(f"{README} has no pair of {MARK} markers")
    new = f"{head}{MARK}\n{table()}\n{MARK}{tail}"
    if args.check:
        if new != text:
            sys.exit("README.md's figures differ from docs/: run scripts/readme_figures.py")
        return
    README.write_text(new)


if __name__ == "__main__":
    main()
