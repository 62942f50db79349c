"""Screenshot of a sweep's HTML report, for the README (docs/report.png).

    python benchmarks/screenshot_report.py output/reference-study/report.html docs/report.png

Needs Playwright (``pip install playwright``) and a Chromium (``apt-get install chromium``,
or ``playwright install chromium`` where downloads are allowed; ``--browser PATH`` picks one).
Picks the best row's learning curve and a few more, brushes nothing, and takes a full-page
screenshot at 1400 px wide.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path, help="report.html")
    parser.add_argument("png", type=Path, nargs="?", default=Path("docs/report.png"))
    parser.add_argument("--browser", help="Chromium executable [default: found on PATH]")
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--curves", type=int, default=4, help="learning curves to pick")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    executable = args.browser or find_chromium()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=ARGS)
        page = browser.new_page(viewport={"width": args.width, "height": 900})
        page.goto(args.report.resolve().as_uri())
        page.wait_for_selector("body[data-ready='1']")
        page.click("#results-table thead tr.head th[data-key='dev_acc']")  # best first
        rows = page.locator("#results-table tbody tr.has-curve:not(.picked)")
        for i in range(min(args.curves - 1, rows.count())):
            rows.nth(2 * i + 1).click()
        args.png.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(args.png), full_page=True)
        browser.close()
    print(args.png)


if __name__ == "__main__":
    main()
