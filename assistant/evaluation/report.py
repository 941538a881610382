"""An evaluation's report: the summary, calibration and source-age tables, the left-out
sentences, and the JSON and Markdown files written from them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from assistant.evaluation.figures import AGE_ROWS, ERRORS, HEADLINE, MODEL_ROWS, Metrics
from assistant.evaluation.scoring import CURRENT_DAYS, Outcome


def calibration_table(results: Mapping[str, Metrics], threshold: str | None
                      ) -> list[str]:
    """Markdown lines: answered at score >= t against precision and recall, per run."""
    runs = {n: m["calibration"] for n, m in results.items() if "calibration" in m}
    if not runs:
        return []
    chosen = f" The product answers at {threshold} and above." if threshold else ""
    lines = ["", "## Calibration", "",
             "Answers whose score (the fitted probability that the question is answered, "
             f"read off the sentence the answer leads with) reaches t.{chosen}", "",
             "| run | t | answered | precision | recall | false answers |",
             "| --- | --- | --- | --- | --- | --- |"]
    for n, rows in runs.items():
        for r in rows:
            lines.append(f"| {n} | {r['at']:.2f} | {r['answered']} | {_fmt(r['precision'])} | "
                         f"{_fmt(r['recall'])} | {_fmt(r['false_answer'])} |")
    return lines


def source_age_table(results: Mapping[str, Metrics]) -> list[str]:
    """Markdown lines of ``by_source_age``, one column per run; empty when not measured."""
    ages = {n: m["by_source_age"] for n, m in results.items() if m.get("by_source_age")}
    if not ages:
        return []
    names = list(ages)
    first = ages[names[0]]
    lines = ["", "## Answerable questions by their newest source's age on the asker's day",
             "", f"\"current\": a source dated at most {CURRENT_DAYS} days before `asked_on`; "
             "\"older\": every source older.", "",
             "| slice | n | metric | " + " | ".join(names) + " |",
             "| --- | --- | --- |" + " --- |" * len(names)]
    for group in ("current", "older"):
        for key, value in AGE_ROWS:
            cells = [_fmt(value(ages[n][group])) for n in names]
            lines.append(f"| {group} | {first[group]['n']} | {key} | " + " | ".join(cells)
                         + " |")
    return lines


def summary_table(results: Mapping[str, Metrics]) -> str:
    """Markdown table of the headline metrics, one column per run."""
    names = list(results)
    lines = ["| metric | " + " | ".join(names) + " |",
             "| --- |" + " --- |" * len(names)]
    for label, value in HEADLINE:
        cells = [_fmt(value(results[n])) for n in names]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    for label, value in ERRORS:
        cells = [_fmt(value(results[n])) for n in names]
        lines.append(f"| {label} (lower is better) | " + " | ".join(cells) + " |")
    if any("model" in results[n] for n in names):
        for label, value in MODEL_ROWS:
            cells = [_fmt(value(results[n])) for n in names]
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    for key in ("p50", "p95"):
        cells = [f"{results[n]['latency_ms'][key]:.0f} ms" for n in names]
        lines.append(f"| latency {key} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def write_report(folder: Path, results: Mapping[str, Metrics],
                 outcomes: Sequence[Outcome], fixtures_path: Path, notes: Sequence[str],
                 threshold: str | None = None) -> Path:
    """A Markdown report with PNG charts, and a table of every failed fixture of ours."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    names = list(results)
    labels = [label for label, _ in HEADLINE]
    fig, ax = plt.subplots(figsize=(11, 4.5))
    width = 0.8 / len(names)
    for i, name in enumerate(names):
        values = [value(results[name]) or 0.0 for _, value in HEADLINE]
        ax.bar(np.arange(len(labels)) + i * width, values, width, label=name)
    ax.set_xticks(np.arange(len(labels)) + width * (len(names) - 1) / 2, labels, rotation=30,
                  ha="right")
    ax.set_ylim(0, 1.05)
    ax.set_title(f"Quality on {fixtures_path.name}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(folder / "quality.png", dpi=110)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for i, name in enumerate(names):
        lat = results[name]["latency_ms"]
        ax.bar([i * 3, i * 3 + 1], [lat["p50"], lat["p95"]], label=name)
    ax.set_xticks([i * 3 + 0.5 for i in range(len(names))], names)
    ax.set_ylabel("ms (p50, p95)")
    ax.set_title("Answer latency")
    fig.tight_layout()
    fig.savefig(folder / "latency.png", dpi=110)
    plt.close(fig)
    failed = [o for o in outcomes if not o.ok]
    rows = []
    for o in failed:
        facts = "; ".join(" / ".join(a) for a in o.fixture.answers) or (
            "(abstain)" if not o.fixture.answerable else (o.fixture.quote or ""))
        cites = "; ".join(f"[{c.n}] {c.article_id}: “{c.quote[:80]}”" for c in
                          o.answer.citations)
        rows.append("| " + " | ".join(_cell(x) for x in (
            o.fixture.id, o.fixture.question, facts, o.answer.answer[:300], cites)) + " |")
    text = [f"# Evaluation: {fixtures_path.name}", "",
            f"{len(outcomes)} fixtures; runs: {', '.join(names)}.", "",
            summary_table(results), "", "![quality](quality.png)", "",
            "![latency](latency.png)", ""]
    text += [f"- {n}" for n in notes]
    text += source_age_table(results)
    text += calibration_table(results, threshold)
    text += _left_out_section(outcomes)
    text += ["", f"## Failed fixtures ({len(failed)})", ""]
    if rows:
        text += ["| id | question | expected | our answer | our citations |",
                 "| --- | --- | --- | --- | --- |", *rows]
    else:
        text.append("None.")
    path = folder / "report.md"
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    return path


def _left_out_section(outcomes: Sequence[Outcome]) -> list[str]:
    """What the check removed from a model's answers, counted by kind of reason, with an
    example of each: failures read by pattern rather than one by one."""
    kinds: dict[str, list[str]] = {}
    for o in outcomes:
        for sentence, reason in o.answer.left_out:
            for part in reason.split("; "):
                kind = re.sub(r"“[^”]*”(, “[^”]*”)*", "…", part)
                kind = re.sub(r"\[\d+\]", "[n]", kind)
                kind = re.sub(r"says .* not …", "says another figure", kind)
                kinds.setdefault(kind, []).append(sentence)
    if not kinds:
        return []
    total = sum(len(o.answer.left_out) for o in outcomes)
    lines = ["", f"## Sentences of the model's answers left out ({total})", "",
             "| reason | sentences | example |", "| --- | --- | --- |"]
    for kind, sentences in sorted(kinds.items(), key=lambda kv: -len(kv[1])):
        lines.append(f"| {_cell(kind)} | {len(sentences)} | {_cell(sentences[0][:160])} |")
    return lines


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")
