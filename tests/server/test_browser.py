"""The web page in a real browser: Debian's chromium driven by Playwright (never Playwright's own
browser download). Type, sign, watch it play with the word highlighted, use the keyboard,
download the .pose and read it back, and check that nothing was fetched from anywhere else.

Set TEXT2SIGN_SCREENSHOT=docs/serve.png to keep the screenshot the README shows.
"""

import os
import shutil
import time

import pytest

pytest.importorskip("fastapi")
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="Playwright is not installed (pip install 'text2sign[serve-test]')"
)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium on this machine (apt-get install chromium; .ci/run does where it can)"
)
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield chromium
        chromium.close()


def wait_until(page, expression: str, timeout: float = 20.0) -> None:
    """Poll `expression` in the page (Playwright's wait_for_function evaluates strings, which the
    page's Content-Security-Policy forbids, as it should)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"still false after {timeout} s: {expression}"
        page.wait_for_timeout(20)


def test_the_page_signs_plays_highlights_and_downloads(browser, live_url, tmp_path):
    from text2sign.pose.io import load_pose

    page = browser.new_page(viewport={"width": 1000, "height": 660}, accept_downloads=True)
    requested, problems = [], []
    page.on("request", lambda r: requested.append(r.url))
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)

    page.goto(f"{live_url}/")
    page.wait_for_selector("#sign:not([disabled])")
    page.wait_for_selector("#model[data-loaded=true]", timeout=60_000)
    unlabelled = page.evaluate(
        "[...document.querySelectorAll('textarea, select, input')].filter(e => !e.labels.length).map(e => e.id)"
    )
    assert unlabelled == []
    assert (
        page.eval_on_selector("#signed", "s => s.value") == "ase"
        and page.eval_on_selector("#spoken", "s => s.value") == "en"
    )

    page.fill("#text", "Hello, world.")
    page.click("#sign")
    wait_until(page, "window.text2sign.firstFrameMs !== null")
    first_frame_ms = page.evaluate("window.text2sign.firstFrameMs")
    print(f"first signing visible {first_frame_ms:.0f} ms after pressing Sign")
    assert first_frame_ms < 5000

    start = int(page.get_attribute("#canvas", "data-frame"))
    wait_until(page, f"Number(document.querySelector('#canvas').dataset.frame) > {start + 5}")
    wait_until(page, "document.querySelector('#words .word.current')?.textContent === 'world'")
    assert page.get_attribute("#words .word.current", "aria-current") == "true"

    page.focus("#canvas")
    page.keyboard.press("Space")
    assert page.get_attribute("#play", "aria-pressed") == "false"
    paused_at = page.get_attribute("#canvas", "data-frame")
    page.keyboard.press("ArrowRight")
    assert int(page.get_attribute("#canvas", "data-frame")) == int(paused_at) + 1
    page.focus("#speed")
    page.keyboard.press("End")
    assert page.text_content("#speed-value") == "2×"
    page.keyboard.press("Home")
    assert page.text_content("#speed-value") == "0.5×"
    page.keyboard.press("ArrowRight")
    assert page.text_content("#speed-value") == "0.75×"

    screenshot = tmp_path / "serve.png"
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(screenshot), full_page=True)
    if os.environ.get("TEXT2SIGN_SCREENSHOT"):
        shutil.copyfile(screenshot, os.environ["TEXT2SIGN_SCREENSHOT"])

    with page.expect_download() as download:
        page.click("button[data-format=pose]")
    assert download.value.suggested_filename == "signing.pose"
    saved = tmp_path / "signing.pose"
    download.value.save_as(saved)
    frames = int(page.text_content("#frame-info").split("/")[1])
    assert load_pose(saved).num_frames == frames

    outside = [url for url in requested if not url.startswith((f"{live_url}/", "blob:", "data:"))]
    assert outside == []
    assert problems == []
    page.close()


def test_an_error_is_shown_where_a_screen_reader_announces_it(browser, live_url):
    page = browser.new_page()
    page.goto(f"{live_url}/")
    page.wait_for_selector("#sign:not([disabled])")
    page.fill("#text", "4")
    page.click("#sign")
    wait_until(page, "document.querySelector('#error').textContent.length > 0")
    assert "can be signed" in page.text_content("#error") and page.get_attribute("#error", "role") == "alert"
    page.close()
