"""Screenshots of the chat while a local model's answer streams and after it is checked.

    ./dev llm &                       # Qwen 1.5B on 127.0.0.1:8011
    .venv/bin/python scripts/screenshot_llm.py --index-dir index [--out docs]

Starts the app on a free port against that server, asks the seeds' cyber question, and
writes ``llm-draft.png`` (the draft, marked as being checked) and ``llm-checked.png`` (the
checked answer and its sources) to ``--out``. Uses the system Chromium, never a download.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QUESTION = "What did Takaichi and Starmer agree on cyber?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--index-dir", required=True)
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    parser.add_argument("--llm-url", default="http://127.0.0.1:8011/v1")
    parser.add_argument("--model", default="qwen2.5-coder-1.5b-instruct")
    parser.add_argument("--port", type=int, default=7891)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    env = {**os.environ, "ASSISTANT_INDEX_DIR": args.index_dir, "HF_HUB_OFFLINE": "1",
           "OPENAI_BASE_URL": args.llm_url, "ASSISTANT_LLM_MODEL": args.model,
           "ASSISTANT_LLM_TIMEOUT": "300", "GRADIO_ANALYTICS_ENABLED": "False"}
    app = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--port", str(args.port)],
                           env=env, cwd=ROOT)
    url = f"http://127.0.0.1:{args.port}/"
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except OSError:
                time.sleep(1)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True)
            page = browser.new_page(viewport={"width": 1500, "height": 1000})
            page.goto(url)
            page.wait_for_selector("#question textarea", timeout=60_000)
            page.fill("#question textarea", QUESTION)
            page.click("#ask")
            page.wait_for_function("() => document.querySelector('#chat').innerText"
                                   ".includes('draft, being checked')", timeout=300_000)
            time.sleep(1.5)  # a few words into the draft
            args.out.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(args.out / "llm-draft.png"))
            page.wait_for_function("() => document.querySelector('#chat').innerText"
                                   ".includes('openai answer · ')", timeout=300_000)
            time.sleep(1.5)  # the chat goes back to the answer's first line
            page.screenshot(path=str(args.out / "llm-checked.png"))
            browser.close()
    finally:
        app.terminate()
        app.wait(timeout=30)
    print(f"wrote {args.out / 'llm-draft.png'} and {args.out / 'llm-checked.png'}")


if __name__ == "__main__":
    main()
