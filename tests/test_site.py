"""The built site, opened in headless Chromium with the network unreachable.

For every chapter page: the mathematics is typeset (MathJax ran, no raw ``\\(`` or
``$$`` left in the text), every image loaded, no request left the machine, and moving
the first Explore slider changes the figure shown. Screenshots go to
``_build/screenshots/`` for a look by eye.

The site is built (or, thanks to the execution cache, reused) with ``make book``.
Chromium and ChromeDriver come from Debian (``.ci/run`` installs them); without them the
test is skipped locally and fails under CI.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

from kexue_lib._book import toc_files

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
TOC_FILES = toc_files(ROOT)
CHAPTER_PAGES = [f for f in TOC_FILES if (ROOT / f"{f}.ipynb").exists()]
OTHER_PAGES = ["book/intro", "book/guide", "book/claims", "book/ledger", "book/citing"]

pytestmark = pytest.mark.browser


def _browser_paths():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not (chromium and driver):
        msg = (
            "Debian's chromium and chromium-driver are needed for the browser test "
            "(.ci/run installs them)"
        )
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    return chromium, driver


@pytest.fixture(scope="module")
def site():
    """Build (or reuse) the site and serve it on a loopback port."""
    _browser_paths()
    if not os.environ.get("KEXUE_REUSE_SITE") or not (HTML / "index.html").exists():
        subprocess.run(["make", "--no-print-directory", "book"], cwd=ROOT, check=True)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(HTML))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, chromedriver = _browser_paths()
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for arg in [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1280,2000",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
        # The network is unreachable: every non-loopback request goes to a proxy that
        # does not exist and no name resolves. Loopback (our server) is never proxied.
        "--proxy-server=http://127.0.0.1:9",
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
    ]:
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    os.environ.setdefault(
        "SE_OFFLINE", "true"
    )  # never let Selenium Manager look for drivers online
    drv = webdriver.Chrome(service=Service(executable_path=chromedriver), options=opts)
    drv.set_script_timeout(60)
    yield drv
    drv.quit()


def _requested_urls(drv) -> list[str]:
    import json

    urls = []
    for entry in drv.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg.get("method") == "Network.requestWillBeSent":
            urls.append(msg["params"]["request"]["url"])
    return urls


_WAIT_MATHJAX = """
const done = arguments[arguments.length - 1];
const t0 = Date.now();
(function poll() {
  if (!document.querySelector('script[src*="mathjax"]')) { done('no math on page'); }
  else if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    MathJax.startup.promise.then(() => done('ok'), e => done('error: ' + e));
  } else if (Date.now() - t0 > 30000) { done('no MathJax'); }
  else { setTimeout(poll, 100); }
})();
"""

_PROSE_TEXT = """
const main = document.querySelector('main') || document.body;
const clone = main.cloneNode(true);
clone.querySelectorAll(
  'pre, code, .highlight, script, style, mjx-container, .cell_output'
).forEach(n => n.remove());
return clone.innerText;
"""

_IMAGES = """
return Array.from(document.querySelectorAll('main img')).map(
  i => ({
    src: i.currentSrc || i.src,
    ok: i.complete && i.naturalWidth > 0,
    visible: i.offsetParent !== null,
  }));
"""


def _visit(drv, base: str, page: str, shot: str):
    from selenium.webdriver.support.ui import WebDriverWait

    drv.get_log("performance")  # drop earlier entries
    drv.get(f"{base}/{page}.html")
    WebDriverWait(drv, 30).until(
        lambda d: d.execute_script("return document.readyState") == "complete"
    )
    state = drv.execute_async_script(_WAIT_MATHJAX)
    assert state in ("ok", "no math on page"), (
        f"{page}: MathJax did not start ({state})"
    )
    out = ROOT / "_build" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    return out / f"{shot}.png"


def _assert_offline_and_typeset(drv, base: str, page: str):
    host = urlparse(base).netloc
    foreign = [
        u
        for u in _requested_urls(drv)
        if urlparse(u).scheme in ("http", "https", "ws", "wss")
        and urlparse(u).netloc != host
    ]
    assert not foreign, f"{page} requested resources off the machine: {foreign[:5]}"
    text = drv.execute_script(_PROSE_TEXT)
    for raw in ("\\(", "\\)", "$$", "\\[", "\\begin{"):
        assert raw not in text, (
            f"{page}: untypeset math {raw!r} near: "
            f"{text[max(0, text.find(raw) - 60) : text.find(raw) + 60]!r}"
        )
    assert (
        drv.execute_script("return document.querySelectorAll('mjx-container').length")
        > 0
    ), f"{page}: no math"


@pytest.mark.parametrize("page", OTHER_PAGES)
def test_front_matter_pages_render_offline(site, driver, page):
    path = _visit(driver, site, page, page.replace("/", "_"))
    host = urlparse(site).netloc
    foreign = [
        u
        for u in _requested_urls(driver)
        if urlparse(u).netloc not in ("", host)
        and urlparse(u).scheme in ("http", "https")
    ]
    assert not foreign, f"{page} requested resources off the machine: {foreign[:5]}"
    assert all(i["ok"] for i in driver.execute_script(_IMAGES))
    driver.save_screenshot(str(path))


@pytest.mark.parametrize("page", CHAPTER_PAGES)
def test_chapter_page_typesets_loads_figures_and_slider_moves(site, driver, page):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    path = _visit(driver, site, page, page.replace("/", "_"))
    _assert_offline_and_typeset(driver, site, page)

    # Widgets are rendered by the local HTML manager after load; wait for the Explore
    # slider.
    WebDriverWait(driver, 30).until(
        lambda d: d.find_elements(
            By.CSS_SELECTOR,
            ".widget-slider .noUi-handle, .jupyter-widgets .noUi-handle",
        ),
        message=(
            f"{page}: no slider rendered (widget state missing or widget manager "
            "not loaded)"
        ),
    )
    WebDriverWait(driver, 30).until(
        lambda d: all(i["ok"] for i in d.execute_script(_IMAGES))
    )
    images = driver.execute_script(_IMAGES)
    assert images, f"{page}: no figures"
    assert all(i["ok"] for i in images), (
        f"{page}: images failed to load: "
        f"{[i['src'][:80] for i in images if not i['ok']]}"
    )

    # Move the first slider one step with the keyboard (right, or left from its last
    # value) and check that the displayed figure changed.
    handle = driver.find_elements(
        By.CSS_SELECTOR, ".widget-slider .noUi-handle, .jupyter-widgets .noUi-handle"
    )[0]
    box = handle.find_element(
        By.XPATH, "ancestor::div[contains(@class,'widget-vbox')][1]"
    )
    shown = (
        "return Array.from(arguments[0].querySelectorAll('img'))"
        ".filter(i => i.offsetParent !== null).map(i => i.src);"
    )
    before = driver.execute_script(shown, box)
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", handle)
    driver.save_screenshot(str(path.with_name(path.stem + "-explore-before.png")))
    # A slider that starts at its last value can only move left.
    now, top = (handle.get_attribute(a) for a in ("aria-valuenow", "aria-valuemax"))
    at_end = now is not None and top is not None and float(now) >= float(top)
    handle.send_keys(Keys.ARROW_LEFT if at_end else Keys.ARROW_RIGHT)
    time.sleep(0.5)
    after = driver.execute_script(shown, box)
    if before == after and not at_end:  # no aria attributes: try the other way
        handle.send_keys(Keys.ARROW_LEFT, Keys.ARROW_LEFT)
        time.sleep(0.5)
        after = driver.execute_script(shown, box)
    driver.save_screenshot(str(path.with_name(path.stem + "-explore-after.png")))
    assert before and after, f"{page}: no visible figure in the Explore widget"
    assert before != after, f"{page}: moving the slider did not change the figure"
    driver.execute_script("window.scrollTo(0, 0);")
    driver.save_screenshot(str(path))
