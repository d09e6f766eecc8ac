"""Render a batch's report pages to PNG with headless Chromium, for review.

    python tools/screenshots.py [BATCH_FOLDER] [--out DIR] [--width 1280]

Renders BATCH_FOLDER/index.html, jobs.html and one code-free report per notebook
(the first scenario that ran it). Needs Debian's ``chromium`` (and ``fonts-noto-cjk`` so
that Chinese shows in the browser): ``apt-get install chromium fonts-noto-cjk``.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("batch", nargs="?", default="outputs/default", help="a batch folder (default outputs/default)")
    parser.add_argument("--out", default="outputs/screenshots", help="folder for the PNG files")
    parser.add_argument("--width", type=int, default=1280, help="window width in pixels")
    parser.add_argument("--height", type=int, default=3000, help="window height in pixels")
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
    with tempfile.TemporaryDirectory() as profile:
        for page in pages:
            name = "index" if page.name == "index.html" else page.stem.replace(".report", "")
            target = out / f"{name}.png"
            subprocess.run([browser, *FLAGS, f"--user-data-dir={profile}",
                            f"--window-size={args.width},{args.height}", f"--screenshot={target.resolve()}",
                            page.as_uri()], check=False, capture_output=True, timeout=120)
            print(f"{'wrote' if target.exists() else 'FAILED'} {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
