"""A batch's index.html in a real browser (Debian's chromium driven by Playwright), offline:
nothing is fetched from the internet, the language switch turns every heading and label to
English, the search box finds a unit, and no text runs off the page at 1,400 px. A missing
browser fails these tests where PERFSIM_REQUIRE_BROWSER is set (CI) and skips them elsewhere."""

from __future__ import annotations

import os
import re
import shutil

import pytest

from perfsim.runners.batch import run_batch

from ..conftest import MINI, MINI_SCHEME, ROOT, TESTS

pytestmark = pytest.mark.slow
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CJK = re.compile(r"[\u3400-\u9fff]")


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    if CHROMIUM is None:
        if os.environ.get("PERFSIM_REQUIRE_BROWSER"):
            pytest.fail("chromium is not installed (apt-get install chromium fonts-noto-cjk)")
        pytest.skip("chromium is not installed (apt-get install chromium fonts-noto-cjk)")
    sync = pytest.importorskip("playwright.sync_api")
    out = tmp_path_factory.mktemp("index")
    run_batch([MINI_SCHEME, TESTS / "data" / "mini_scenario.yaml"],
              [ROOT / "notebooks" / "scoring.ipynb", ROOT / "notebooks" / "comparison.ipynb"],
              out=out, name="r", data=str(MINI), jobs=2, progress=False)
    with sync.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"])
        pg = browser.new_page(viewport={"width": 1400, "height": 1000})
        requests: list[str] = []
        pg.on("request", lambda r: requests.append(r.url))
        pg.goto((out / "r" / "index.html").as_uri())
        pg.wait_for_load_state("load")
        yield pg, requests
        browser.close()


def test_the_index_loads_nothing_from_the_internet(page):
    pg, requests = page
    assert requests and all(u.startswith(("file:", "data:")) for u in requests), \
        [u for u in requests if not u.startswith(("file:", "data:"))][:5]


def test_the_language_switch_turns_headings_and_labels_to_english(page):
    pg, _ = page
    assert CJK.search(pg.inner_text("h1"))
    pg.click(".langs button[data-lang=en]")
    headings = pg.eval_on_selector_all("h1, h2, th", "els => els.filter(e => e.offsetParent !== null)"
                                                      ".map(e => e.innerText)")
    left = [h for h in headings if CJK.search(h) and not re.search(r"优秀|良好|达标|不达标|mini", h)]
    assert headings and not left, left[:10]
    assert pg.evaluate("document.documentElement.lang") == "en"
    pg.click(".langs button[data-lang=zh]")
    assert CJK.search(pg.inner_text("h2"))


def test_the_search_box_finds_a_unit(page):
    pg, _ = page
    rows = pg.eval_on_selector_all("#unit-table tbody tr", "els => els.length")
    assert rows >= 2
    first_id = pg.inner_text("#unit-table tbody tr:nth-child(2) td:nth-child(2)")
    pg.fill("#unit-search", first_id)
    visible = pg.eval_on_selector_all("#unit-table tbody tr", "els => els.filter(e => e.style.display !== 'none')"
                                                              ".map(e => e.children[1].innerText)")
    assert visible == [first_id] and pg.inner_text("#unit-count") == "1"
    pg.fill("#unit-search", "")
    assert pg.inner_text("#unit-count") == str(rows)


def test_no_text_runs_off_the_page(page):
    pg, _ = page
    assert pg.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth + 1")
    # every wide table scrolls inside its own box rather than pushing the page wider
    assert pg.evaluate("[...document.querySelectorAll('table')].every(t => t.closest('.wrap, .matrices'))")
