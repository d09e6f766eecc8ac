"""Render a batch's report pages to PNG with headless Chromium, for review.

    python tools/screenshots.py [BATCH_FOLDER] [--out DIR] [--width 1280]

Renders whole pages (however long) of BATCH_FOLDER/index.html (in Chinese and in English),
jobs.html and one code-free report per notebook
(the first scenario that ran it), and the first screen of the live explorer
(``perfsim explore``, driven by Playwright in the same chromium) in Chinese and in English
unless ``--no-explorer``. Needs Debian's ``chromium`` (and ``fonts-noto-cjk`` so
that Chinese shows in the browser): ``apt-get install chromium fonts-noto-cjk``.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("batch", nargs="?", default="outputs/default", help="a batch folder (default outputs/default)")
    parser.add_argument("--out", default="outputs/screenshots", help="folder for the PNG files")
    parser.add_argument("--width", type=int, default=1280, help="window width in pixels")
    parser.add_argument("--no-explorer", action="store_true", help="leave out the explorer's first screen")
    args = parser.parse_args()
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        print("screenshots: no chromium found; install it with: apt-get install chromium fonts-noto-cjk",
              file=sys.stderr)
        return 2
    batch, out = Path(args.batch).resolve(), Path(args.out)
    if not (batch / "index.html").exists():
        print(f"screenshots: {batch}/index.html not found; run `make run` (or a batch) first", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    pages = [batch / "index.html", batch / "jobs.html"]
    seen: set[str] = set()
    for report in sorted(batch.glob("*/*/*.report.html")):
        notebook = report.parent.name
        if notebook not in seen:
            seen.add(notebook)
            pages.append(report)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:              # whole pages, however long (Playwright's full_page)
        b = p.chromium.launch(executable_path=browser, args=FLAGS[1:])
        for page in pages:
            for lang in ("zh", "en") if page.name == "index.html" else ("zh",):
                name = "index" if page.name == "index.html" else page.stem.replace(".report", "")
                target = out / (f"{name}_{lang}.png" if page.name == "index.html" else f"{name}.png")
                view = b.new_page(viewport={"width": args.width, "height": 1000})
                view.goto(page.as_uri() + (f"#lang={lang}" if page.name == "index.html" else ""))
                view.wait_for_load_state("load")
                view.screenshot(path=str(target), full_page=True)
                view.close()
                print(f"{'wrote' if target.exists() else 'FAILED'} {target}")
        b.close()
    if not args.no_explorer:
        explorer_screens(browser, out, args.width)
    return 0


def explorer_screens(browser: str, out: Path, width: int) -> None:
    """The explorer's first screen (after moving the leader rating from 10 to 5), zh and en."""
    import socket
    import time

    from playwright.sync_api import sync_playwright

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen([sys.executable, "-m", "perfsim.cli", "explore", "--port", str(port),
                             "--out", str(out / "explore")], cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        for line in proc.stdout:
            if "open http" in line:
                break
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=browser, args=FLAGS[1:])
            for lang in ("zh", "en"):
                page = b.new_page(viewport={"width": width, "height": 1000})
                page.goto(f"http://127.0.0.1:{port}/?scenario=leader5_proportional&lang={lang}")
                page.wait_for_selector(".ps-table .tabulator-row", timeout=60_000)
                time.sleep(3)
                target = out / f"explorer_{lang}.png"
                page.screenshot(path=str(target))
                print(f"wrote {target}")
                page.close()
            b.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
