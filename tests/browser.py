"""Fixtures and helpers for the dashboard's real-browser tests (tests/test_dashboard.py).

`dashboard` starts `streamlit run app.py` once per test session on a free port, over a
private model store (a copy of the shipped models/default, or a tiny model trained for real
when it is missing), a private "my digits" folder and a private jobs folder. `page` is a
fresh Chromium tab (Debian's /usr/bin/chromium, driven by Playwright) per test.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("DIGITCLF_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SHIPPED_MODEL = REPO / "models" / "default"
TIMEOUT_MS = 90_000  # generous: the CPU may be shared with a training run


@dataclass
class Dashboard:
    url: str
    models: Path
    my_digits: Path
    jobs: Path
    shipped_model: bool  # False: a tiny model trained for the tests (reads digits less surely)
    log: Path

    def card(self, name: str = "default") -> dict:
        return json.loads((self.models / name / "card.json").read_text())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _store_with_default(root: Path) -> bool:
    """models/default copied in (True), else a tiny model trained by the real code (False)."""
    if (SHIPPED_MODEL / "model.keras").is_file() and (SHIPPED_MODEL / "card.json").is_file():
        shutil.copytree(SHIPPED_MODEL, root / "default")
        return True
    # batch size 16: with the preset's 128, 1000 examples are 8 steps, too few to learn.
    result = subprocess.run(
        [sys.executable, "-m", "digitclf", "train", "--preset", "fast", "--name", "default",
         "--train-subset", "1000", "--epochs", "1", "--no-augment", "--batch-size", "16"],
        cwd=REPO, env={**os.environ, "DIGITCLF_MODELS": str(root)}, capture_output=True,
        text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return False


def _wait_healthy(url: str, process: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(
                f"streamlit exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"streamlit did not come up in {timeout} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="session")
def dashboard(tmp_path_factory) -> Dashboard:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    base = tmp_path_factory.mktemp("dashboard")
    models, my_digits, jobs = base / "models", base / "my_digits", base / "jobs"
    models.mkdir()
    shipped = _store_with_default(models)
    port = _free_port()
    log = base / "streamlit.log"
    env = {**os.environ, "DIGITCLF_MODELS": str(models), "DIGITCLF_MY_DIGITS": str(my_digits),
           "DIGITCLF_JOBS": str(jobs)}
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
             "--server.port", str(port), "--server.address", "127.0.0.1",
             "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false"],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, process, log)
        yield Dashboard(url, models, my_digits, jobs, shipped, log)
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def chromium():
    """Chromium driven by Playwright, one per test session: Playwright's sync API cannot be
    started twice in one process while the first is running."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def browser(dashboard, chromium):
    """The browser for dashboard tests (the dashboard is up first)."""
    return chromium


@pytest.fixture
def page(browser, dashboard):
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    yield tab
    context.close()


# ----- helpers ---------------------------------------------------------------------------------
def open_page(page, dashboard: Dashboard, path: str = "", heading: str | None = None) -> None:
    """Go to a page and wait until its script has run (and its heading shows)."""
    page.goto(f"{dashboard.url}/{path}")
    if heading:
        page.get_by_role("heading", name=heading).first.wait_for()
    wait_idle(page)


def wait_idle(page) -> None:
    page.locator("[data-testid=stApp][data-test-script-state=notRunning]").wait_for()
    page.locator("[data-testid=stStatusWidget]").wait_for(state="hidden")


def assert_no_error_box(page) -> None:
    boxes = page.get_by_test_id("stException")
    assert boxes.count() == 0, boxes.first.inner_text()
    assert "Traceback" not in page.locator("body").inner_text()


def metric_value(page, label: str, within=None) -> str:
    """The value a st.metric shows, searched in `within` (a locator) or the whole page."""
    metric = (within or page).get_by_test_id("stMetric").filter(
        has=page.get_by_text(label, exact=True))
    return metric.get_by_test_id("stMetricValue").inner_text().strip()


# Strokes in canvas units (0..1 across the 280x280 pad), each a polyline.
def _ellipse(cx: float, cy: float, rx: float, ry: float, n: int = 40) -> list[tuple[float, float]]:
    return [(cx + rx * math.sin(2 * math.pi * i / n), cy - ry * math.cos(2 * math.pi * i / n))
            for i in range(n + 1)]


DIGIT_STROKES: dict[int, list[list[tuple[float, float]]]] = {
    1: [[(0.52, 0.14), (0.48, 0.86)]],
    # The 7 starts both strokes in the top-right corner, where the canvas's toolbar used to
    # float invisibly over the drawing area and swallow strokes.
    7: [[(0.80, 0.08), (0.22, 0.08)], [(0.80, 0.08), (0.42, 0.90)]],
    0: [_ellipse(0.5, 0.5, 0.22, 0.34)],
    4: [[(0.58, 0.12), (0.22, 0.60), (0.78, 0.60)], [(0.60, 0.34), (0.60, 0.90)]],
}


def reveal(page, opener, target) -> None:
    """Click `opener` (a selectbox, a popover) until `target` shows, then click `target`. A
    click that lands while the page is still re-rendering can be lost: open it again."""
    for _ in range(3):
        wait_idle(page)
        expect(opener).to_have_count(1, timeout=30_000)  # a rerun's stale copy of it is gone
        if target.is_visible():
            break
        opener.click()
        try:
            target.wait_for(timeout=10_000)
            break
        except PlaywrightTimeout:
            page.keyboard.press("Escape")
    target.click()


def choose(page, label: str, option: str) -> None:
    """Pick `option` in the selectbox labelled `label`, then wait for the rerun."""
    reveal(page, page.get_by_test_id("stSelectbox").filter(has_text=label),
           page.get_by_role("option", name=option, exact=True))
    wait_idle(page)


def image_uploader(page):
    """The Draw page's image upload (not the "my digits" import beside it)."""
    return (page.get_by_test_id("stFileUploader").filter(has_text="A photo or scan of")
            .get_by_test_id("stFileUploaderDropzoneInput"))


def canvas(page):
    return page.locator("canvas.upper-canvas")


def draw(page, strokes: list[list[tuple[float, float]]], step_px: float = 6.0) -> float:
    """Draw the strokes with the mouse, the pointer arriving from outside the canvas;
    returns the time.perf_counter() of the last pen lift."""
    box = canvas(page).bounding_box()
    assert box is not None, "canvas not visible"
    page.mouse.move(box["x"] - 40, box["y"] - 40)  # off the component: no hover state
    lifted = 0.0
    for stroke in strokes:
        points = [(box["x"] + x * box["width"], box["y"] + y * box["height"]) for x, y in stroke]
        page.mouse.move(*points[0])
        page.mouse.down()
        for (x0, y0), (x1, y1) in zip(points, points[1:]):
            steps = max(1, int(math.hypot(x1 - x0, y1 - y0) / step_px))
            page.mouse.move(x1, y1, steps=steps)
        page.mouse.up()
        lifted = time.perf_counter()
    return lifted


def draw_until(page, strokes: list[list[tuple[float, float]]], shown) -> float:
    """Draw the strokes and wait until `shown` (a locator) is visible; the pen-up time.

    A stroke drawn while the canvas component is still mounting (its first value on its way
    to the server) can stay on the pad without reaching the app; then the pad is cleared
    with its own button and the strokes drawn once more."""
    lifted = draw(page, strokes)
    try:
        shown.wait_for(timeout=20_000)
    except PlaywrightTimeout:
        print("\nthe canvas did not pass the strokes on: clearing it and drawing them again")
        page.locator('button[title="Reset canvas & history"]').click()
        wait_idle(page)
        lifted = draw(page, strokes)
        shown.wait_for()
    return lifted


def number_strokes(digits: str, aspect: float = 840 / 240, left: float = 0.06,
                   step: float = 0.3) -> list[list[tuple[float, float]]]:
    """DIGIT_STROKES side by side on a wide pad (width/height = aspect): each digit's square
    starts `step` of the pad's width after the last, in canvas units of the wide pad."""
    strokes = []
    for i, digit in enumerate(digits):
        x0 = left + i * step
        strokes += [[(x0 + x / aspect, y) for x, y in stroke] for stroke in DIGIT_STROKES[int(digit)]]
    return strokes
