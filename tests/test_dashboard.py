"""The Streamlit dashboard in a real browser: draw with the mouse, upload, correct, evaluate,
browse the mistakes, train from the form, manage models. Fixtures: tests/browser.py."""

from __future__ import annotations

import re
import time

import numpy as np
import pytest
from browser import (
    DIGIT_STROKES,
    assert_no_error_box,
    canvas,
    choose,
    draw_until,
    image_uploader,
    metric_value,
    number_strokes,
    open_page,
    reveal,
    wait_idle,
)
from PIL import Image
from playwright.sync_api import expect

DRAW_HINT = "Draw a digit in the box"


def _clear(page) -> None:
    page.locator('button[title="Reset canvas & history"]').click()
    page.get_by_text(DRAW_HINT).wait_for()
    page.get_by_text("What the model saw (28×28)", exact=True).wait_for()  # empty again


def _strokes_caption(page, n: int):
    return page.get_by_text(re.compile(rf"What the model saw \(28×28\) · {n} strokes?$"))


def _result_row(page, caption):
    """The row of Prediction, Confidence and model input holding this caption (elements of
    the run before may linger while a run is going on)."""
    return page.get_by_test_id("stHorizontalBlock").filter(has=caption).last


def _read_drawing(page, digit: int) -> tuple[str, float]:
    """Draw the digit; the displayed prediction and the seconds from pen up to its display."""
    strokes = DIGIT_STROKES[digit]
    caption = _strokes_caption(page, len(strokes))
    lifted = draw_until(page, strokes, caption)
    seconds = time.perf_counter() - lifted
    return metric_value(page, "Prediction", _result_row(page, caption)), seconds


def _read_number(page, digits: str) -> str:
    """Write the digits side by side on the number pad; the displayed number."""
    strokes = number_strokes(digits)
    caption = page.get_by_text(re.compile(rf"^\d+ digits? · {len(strokes)} strokes?$"))
    lifted = draw_until(page, strokes, caption)
    print(f"\nnumber {digits}: pen up -> shown in {time.perf_counter() - lifted:.2f} s")
    return metric_value(page, "Number", _result_row(page, caption))


def test_draw_digits_and_read_them(page, dashboard):
    open_page(page, dashboard, "", heading="Draw a digit")
    canvas(page).wait_for()
    page.get_by_text(DRAW_HINT).wait_for()
    accuracy = dashboard.card()["test_accuracy"]
    assert metric_value(page, "MNIST test accuracy") == f"{100 * accuracy:.2f}%"

    timings = {}
    for digit in (1, 7, 0, 4):
        shown, seconds = _read_drawing(page, digit)
        timings[digit] = seconds
        assert shown in [str(d) for d in range(10)], shown
        if dashboard.shipped_model or digit == 1:  # the tiny stand-in model is less sure
            assert shown == str(digit), f"drew a {digit}, the dashboard read {shown}"
        row = _result_row(page, _strokes_caption(page, len(DIGIT_STROKES[digit])))
        assert re.fullmatch(r"\d+\.\d%", metric_value(page, "Confidence", row))
        if digit != 4:
            _clear(page)
    print("\npen up -> prediction shown: "
          + ", ".join(f"{d}: {s:.2f} s" for d, s in timings.items()))

    # Undo takes the last stroke of the 4 away: the prediction follows.
    page.locator('button[title="Undo"]').click()
    _strokes_caption(page, 1).wait_for()
    # The pen width is adjustable, in a popover beside the other controls.
    page.get_by_role("button", name=re.compile(r"^Pen \d+")).first.click()
    page.get_by_test_id("stSlider").filter(has_text="Pen width").wait_for()
    assert_no_error_box(page)


def test_number_mode_reads_several_digits(page, dashboard):
    open_page(page, dashboard, "", heading="Draw a digit")
    page.get_by_role("radio", name="A number", exact=True).click()
    page.get_by_text("Write a number").wait_for()
    box = canvas(page).bounding_box()
    assert box["width"] > 2.5 * box["height"], box  # the wide pad
    expect(canvas(page)).to_have_count(1)

    # Separate strokes well apart: a 1 and a 7; then, on a cleared pad, 1 1 0.
    assert _read_number(page, "17") == "17"
    if dashboard.shipped_model:  # the tiny stand-in model reads a 0 less surely
        page.locator('button[title="Reset canvas & history"]').click()
        page.get_by_text("Write a number").wait_for()
        assert _read_number(page, "110") == "110"
    # The drawing with the boxes, and one 28x28 model input per digit.
    page.get_by_text("What was read: each digit's box, digit and confidence").wait_for()
    expect(page.get_by_text(re.compile(r"^\d · \d+\.\d%$"))).to_have_count(
        3 if dashboard.shipped_model else 2)
    page.get_by_text("What the model saw").scroll_into_view_if_needed()
    page.screenshot(path=str(dashboard.log.parent / "number-mode.png"))
    assert_no_error_box(page)


def test_correction_goes_into_my_digits(page, dashboard):
    open_page(page, dashboard, "", heading="Draw a digit")
    canvas(page).wait_for()
    before = len(list(dashboard.my_digits.glob("*.png"))) if dashboard.my_digits.exists() else 0
    _read_drawing(page, 1)
    page.get_by_role("radio", name="7", exact=True).click()
    page.get_by_role("button", name="Save to my digits").click()
    page.get_by_text(re.compile(r"Saved as a 7 in your digits")).wait_for()
    saved = sorted(dashboard.my_digits.glob("7-*.png"))
    assert len(list(dashboard.my_digits.glob("*.png"))) == before + 1 and saved
    with Image.open(saved[-1]) as img:
        assert img.size == (280, 280)
    # The set's accuracy shows next to the MNIST one, and the canvas starts afresh.
    page.get_by_text(DRAW_HINT).wait_for()
    assert metric_value(page, "My digits") == f"{before + 1} drawing" + ("s" if before else "")
    assert re.fullmatch(r"\d+\.\d%", metric_value(page, "My digits accuracy"))
    assert_no_error_box(page)


def test_upload_reads_a_scan(page, dashboard, tmp_path):
    from digitclf.training.data import load_mnist

    images, labels = load_mnist("test")
    index = 0  # a clear 7
    scan = 255 - np.kron(images[index], np.ones((8, 8), np.uint8))  # dark ink on white paper
    path = tmp_path / "scan.png"
    Image.fromarray(scan).convert("RGB").save(path)
    open_page(page, dashboard, "", heading="Draw a digit")
    page.get_by_role("radio", name="Upload", exact=True).click()
    image_uploader(page).set_input_files(str(path))
    caption = page.get_by_text("What the model saw (28×28) · upload")
    caption.wait_for()
    assert metric_value(page, "Prediction", _result_row(page, caption)) == str(labels[index])
    # Not an image: a sentence, not an exception.
    bad = tmp_path / "notes.png"
    bad.write_bytes(b"this is not a picture")
    image_uploader(page).set_input_files(str(bad))
    page.get_by_text(re.compile("not an image|cannot be decoded")).wait_for()
    assert_no_error_box(page)


def test_evaluate_then_misclassified_via_confusion_matrix(page, dashboard):
    card = dashboard.card()
    open_page(page, dashboard, "evaluate", heading="Evaluate default")
    assert metric_value(page, "Test accuracy") == f"{100 * card['test_accuracy']:.2f}%"
    for title in ("Per digit", "Confusion matrix", "Training curves", "Calibration"):
        page.get_by_role("heading", name=title).wait_for()
    expect(page.get_by_test_id("stPlotlyChart")).to_have_count(3)
    assert_no_error_box(page)

    # Click the confusion matrix's most frequent mistake: its digits open, filtered.
    matrix = np.array(card["confusion_matrix"])
    np.fill_diagonal(matrix, -1)
    true, pred = np.unravel_index(matrix.argmax(), matrix.shape)
    chart = page.get_by_test_id("stPlotlyChart").first
    plot = chart.locator(".nsewdrag").first
    box = plot.bounding_box()
    plot.click(position={"x": (pred + 0.5) * box["width"] / 10,
                         "y": (true + 0.5) * box["height"] / 10})
    query = rf"(true={true}&pred={pred}|pred={pred}&true={true})"
    page.wait_for_url(re.compile(rf"/misclassified\?{query}$"))
    page.get_by_text(re.compile(r"of the \d+ misclassified test digits")).wait_for()
    tiles = page.get_by_role("button", name=re.compile(r"^\d→\d · \d+%$"))
    expect(tiles).to_have_count(min(int(matrix[true, pred]), 36))
    for label in tiles.all_inner_texts():
        assert label.startswith(f"{true}→{pred}")

    # Pick one: its full probability chart shows.
    tiles.first.click()
    page.get_by_role("heading", name=re.compile(r"Test digit #\d+")).wait_for()
    expect(page.get_by_test_id("stPlotlyChart")).to_have_count(1)
    assert_no_error_box(page)


def test_misclassified_filters_and_pages(page, dashboard):
    open_page(page, dashboard, "misclassified", heading="Misclassified by default")
    errors = dashboard.card()["test_errors"]
    page.get_by_text(f"{errors} of the {errors} misclassified test digits").wait_for()
    tiles = page.get_by_role("button", name=re.compile(r"^\d→\d · \d+%$"))
    expect(tiles).to_have_count(min(errors, 36))
    # Most confident first, by default.
    confidences = [int(t.split("· ")[1][:-1]) for t in tiles.all_inner_texts()]
    assert confidences == sorted(confidences, reverse=True)
    # Page through them, 18 a page.
    choose(page, "Per page", "18")
    pages = -(-errors // 18)
    page.get_by_text(f"page 1 of {pages}", exact=True).wait_for()
    expect(tiles).to_have_count(min(errors, 18))
    page.get_by_role("button", name="Next").click()
    page.get_by_text(f"page 2 of {pages}", exact=True).wait_for()
    expect(tiles).to_have_count(min(errors - 18, 18))
    # A confidence range from the URL narrows the list: up to about the median error's
    # confidence, on the slider's 0.05 steps.
    upper = float(np.floor(np.median(confidences) / 5) * 5 / 100)
    open_page(page, dashboard, f"misclassified?conf=0.0&conf={upper:.2f}",
              heading="Misclassified by default")
    caption = page.get_by_text(re.compile(rf"^\d+ of the {errors} misclassified test digits"))
    shown = int(caption.inner_text().split()[0])
    assert 0 < shown < errors
    expect(tiles).to_have_count(min(shown, 36))
    for label in tiles.all_inner_texts():
        assert int(label.split("· ")[1][:-1]) <= round(upper * 100)
    assert_no_error_box(page)


def test_train_cancel_then_train_to_the_end(page, dashboard, browser):
    open_page(page, dashboard, "train", heading="Train a model")

    def fill_form(name: str, examples: int, epochs: int = 1) -> None:
        page.get_by_role("textbox", name="Model name").fill(name)
        page.get_by_role("spinbutton", name="Epochs").fill(str(epochs))
        page.get_by_role("spinbutton", name="Training examples (0 = all)").fill(str(examples))
        choose(page, "Architecture", "mlp")
        choose(page, "Batch size", "32")

    def start_too_small_run(steps: int) -> None:
        """Start a run too short to learn: the page says so first, and starts it when asked again."""
        page.get_by_role("button", name="Start training").click()
        page.get_by_text(re.compile(f"Too small to learn: .* make only {steps} training steps")).wait_for()
        assert page.get_by_role("button", name="Cancel training").count() == 0  # not started
        page.get_by_role("button", name="Start anyway").click()

    # While this session trains (a run of minutes), another browser session draws and is
    # answered: the training runs in a process of its own. Then the run is cancelled and
    # leaves nothing behind.
    fill_form("e2e-cancelled", 0, epochs=5)
    page.get_by_role("button", name="Start training").click()
    cancel = page.get_by_role("button", name="Cancel training")
    cancel.wait_for()
    other = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        tab = other.new_page()
        open_page(tab, dashboard, "", heading="Draw a digit")
        shown, seconds = _read_drawing(tab, 1)
        assert shown == "1"
        print(f"\npen up -> prediction shown in {seconds:.2f} s in a second session, while training")
    finally:
        other.close()
    assert cancel.count() == 1 and not (dashboard.models / "e2e-cancelled").exists()  # still training
    cancel.click()
    page.get_by_text("was cancelled: nothing was saved").wait_for()
    assert not (dashboard.models / "e2e-cancelled").exists()
    assert not [p for p in dashboard.models.iterdir() if p.name.startswith(".tmp-")]

    # A tiny run (fast preset: no augmentation) to the end: progress, then the model in the store.
    fill_form("e2e-tiny", 500)
    start_too_small_run(15)
    page.get_by_test_id("stProgress").wait_for()
    page.get_by_text(re.compile("Model e2e-tiny is in the store")).wait_for(timeout=240_000)
    assert (dashboard.models / "e2e-tiny" / "card.json").is_file()
    card = dashboard.card("e2e-tiny")
    assert card["architecture"] == "mlp" and card["hyperparameters"]["train_subset"] == 500
    assert card["epochs_run"] == 1 and card["hyperparameters"]["batch_size"] == 32
    # 15 steps do not learn: the card, and the page, say so, and it is not offered as the active model.
    assert card["test_accuracy"] < 0.9 and card["accuracy_warning"].startswith("reads only ")
    page.get_by_text(re.compile(r"e2e-tiny reads only \d+\.\d% of the MNIST test digits, far below "
                                "the 90% of a useful model: it is kept")).wait_for()
    expect(page.get_by_role("button", name="Make active")).to_be_disabled()
    assert_no_error_box(page)

    # The Models page lists it, and a broken model folder with why.
    broken = dashboard.models / "e2e-broken"
    broken.mkdir()
    (broken / "card.json").write_text('{"name": "e2e-broken"')  # cut short
    (broken / "model.keras").write_bytes(b"not a model")
    open_page(page, dashboard, "models", heading="Models")
    page.get_by_text("e2e-broken: card.json is not valid JSON").wait_for()
    # The grid fills its cells in after it appears: wait (up to 30 s) for the new model's row.
    page.wait_for_function("""() => {
        const table = document.querySelector('[data-testid=stDataFrame]');
        return table !== null && [...table.querySelectorAll('td[role=gridcell]')]
            .some(cell => cell.textContent.trim() === 'e2e-tiny');
    }""", timeout=30_000)

    def manage(name: str) -> None:
        choose(page, "Manage model", name)

    def delete(name: str) -> None:
        reveal(page, page.get_by_role("button", name="Delete…"),
               page.get_by_role("button", name=f"Delete {name}"))

    # A model far below a useful accuracy is not made active, and the page says why.
    manage("e2e-tiny")
    page.get_by_role("button", name="Make active").click()
    page.get_by_text(re.compile(r"Model 'e2e-tiny' is not made active: it reads only \d+\.\d%")).wait_for()
    # The active model, here the shipped one, is not deleted.
    manage("default")
    delete("default")
    page.get_by_text("Model 'default' is the active model: make another model active first.").wait_for()
    assert (dashboard.models / "default").is_dir() and not (dashboard.models / "active.json").exists()
    # Any other model is, broken ones too.
    for name in ("e2e-tiny", "e2e-broken"):
        manage(name)
        delete(name)
        page.get_by_text(f"Deleted {name}.").wait_for()
        assert not (dashboard.models / name).exists()
    sidebar_model = page.get_by_test_id("stSidebar").get_by_role("combobox", name="Model")
    expect(sidebar_model).to_have_value("default (active)")
    assert_no_error_box(page)


def test_every_page_without_error_box(page, dashboard):
    for path, heading in (("", "Draw a digit"), ("evaluate", re.compile("^Evaluate")),
                          ("misclassified", re.compile("^Misclassified")),
                          ("batch", "Read a batch of images"),
                          ("train", "Train a model"), ("models", "Models")):
        open_page(page, dashboard, path, heading=heading)
        assert_no_error_box(page)


# ----- the package modules behind the Train and Models pages (no browser) ----------------------
def test_jobs_refuse_bad_requests_before_starting(tmp_path, monkeypatch):
    from digitclf.errors import ConfigError, DigitclfError, ModelStoreError
    from digitclf.training import jobs

    monkeypatch.setenv("DIGITCLF_MODELS", str(tmp_path / "models"))
    monkeypatch.setenv("DIGITCLF_JOBS", str(tmp_path / "jobs"))
    monkeypatch.setenv("DIGITCLF_MY_DIGITS", str(tmp_path / "none"))
    for kwargs, error in (({"epochs": 0}, ConfigError), ({"base_model": "absent"}, ModelStoreError),
                          ({"my_digits": True}, DigitclfError), ({"colour": "red"}, DigitclfError)):
        with pytest.raises(error):
            jobs.start("refused", "fast", **kwargs)
    with pytest.raises(ModelStoreError):
        jobs.start("not a name", "fast")
    assert jobs.list_jobs() == []


def test_jobs_pass_the_form_to_the_cli_as_one_config_file(tmp_path):
    from digitclf.cli import build_parser
    from digitclf.training import jobs
    from digitclf.training.config import config_for, read_config_file

    config = config_for("best", epochs=2, learning_rate=3e-4, augment=False, base_model="default",
                        my_digits=True)
    argv = jobs._train_command(tmp_path, "tuned", config, "best", activate=True, overwrite=False)
    args = build_parser().parse_args(argv)
    assert read_config_file(args.config) == (config, "best")
    assert args.preset is None and args.epochs is None and args.augment is None  # nothing twice
    assert args.name == "tuned" and args.activate and not args.overwrite
    assert args.events == tmp_path / "events.jsonl"


def test_jobs_report_why_a_run_failed(tmp_path, monkeypatch):
    from digitclf.training import jobs

    monkeypatch.setenv("DIGITCLF_MODELS", str(tmp_path / "models"))
    monkeypatch.setenv("DIGITCLF_JOBS", str(tmp_path / "jobs"))
    monkeypatch.setenv("DIGITCLF_DATA", str(tmp_path / "no-data"))  # the run cannot read MNIST
    job = jobs.start("doomed", "fast", epochs=1, train_subset=100, augment=False)
    assert [j.id for j in jobs.list_jobs()] == [job.id]
    deadline = time.monotonic() + 180
    while (status := jobs.status(job)).running and time.monotonic() < deadline:
        time.sleep(0.3)
    assert status.state == "failed", status
    assert "MNIST file not found" in status.message
    assert not (tmp_path / "models" / "doomed").exists()


def test_compare_finds_the_disagreements():
    from types import SimpleNamespace

    from digitclf.store.card import ModelCard
    from digitclf.training.compare import compare, per_class, summary

    labels = np.array([0, 1, 2, 3, 4, 5])
    a = np.eye(10)[[0, 1, 2, 3, 9, 9]]  # right on 0-3
    b = np.eye(10)[[0, 7, 2, 3, 4, 8]]  # right on 0, 2, 3, 4
    c = compare(SimpleNamespace(labels=labels, probabilities=a),
                SimpleNamespace(labels=labels, probabilities=b), ("a", "b"))
    assert c.disagree.tolist() == [1, 4, 5]
    assert c.counts == {"both_right": 3, "only_a_right": 1, "only_b_right": 1, "both_wrong": 1}
    assert [r["right"] for r in c.disagreements()] == ["A", "B", "neither"]
    assert c.mcnemar_p == pytest.approx(1.0)
    card_a = ModelCard(name="a", architecture="cnn", test_accuracy=0.99, ece=0.01,
                       per_class={"3": {"f1": 0.9}})
    card_b = ModelCard(name="b", architecture="cnn", test_accuracy=0.98, ece=0.005,
                       per_class={"3": {"f1": 0.95}})
    better = {r["metric"]: r["better"] for r in summary(card_a, card_b)}
    assert better["test accuracy"] == "A" and better["calibration error (ECE)"] == "B"
    assert per_class(card_a, card_b)[3]["f1_change"] == pytest.approx(0.05)


def test_dashboard_starts_without_looking_up_an_external_address(tmp_path):
    """A plain headless start (no address given) prints where to connect and no warning
    about an external IP it could not find offline."""
    import socket
    import subprocess
    import sys

    from browser import REPO

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = tmp_path / "streamlit.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
             "--server.port", str(port)], cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while "You can now view" not in log.read_text() and time.monotonic() < deadline:
            assert process.poll() is None, log.read_text()
            time.sleep(0.2)
    finally:
        process.terminate()
        process.wait(15)
    text = log.read_text()
    assert f"URL: http://localhost:{port}" in text, text
    assert "external IP" not in text and "External URL" not in text, text


# ----- phones, small windows, "not a digit", uploads, honest charts (issue 17) ------------------
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1400, "height": 900}
NOT_A_DIGIT_STROKES = [[(0.2, 0.15), (0.8, 0.85)], [(0.8, 0.15), (0.2, 0.85)]]  # an X


def _tab(browser, viewport):
    from browser import TIMEOUT_MS

    context = browser.new_context(viewport=viewport)
    context.set_default_timeout(TIMEOUT_MS)
    return context, context.new_page()


def assert_on_screen(page, locator) -> None:
    """The element is wholly inside the viewport as the page stands (no scrolling)."""
    box = locator.bounding_box()
    view = page.viewport_size
    assert box is not None, "not rendered"
    assert (box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["width"] <= view["width"]
            and box["y"] + box["height"] <= view["height"]), (box, view)


def _metric(page, label: str):
    return page.get_by_test_id("stMetric").filter(has=page.get_by_text(label, exact=True)).last


def _shows_whole_text(locator) -> bool:
    """No part of the element (or of anything in it) is cut off with an ellipsis."""
    return locator.evaluate(
        "e => [e, ...e.querySelectorAll('*')].every(x => x.scrollWidth <= x.clientWidth + 1)")


def test_not_a_digit_is_said_once_and_the_number_reading_fits_a_desktop(browser, dashboard):
    context, page = _tab(browser, DESKTOP)
    try:
        open_page(page, dashboard, "", heading="Draw a digit")
        # The toolbar's "send" arrow is gone: every stroke reaches the app anyway.
        page.locator('button[title="Undo"]').wait_for()
        expect(page.locator('button[title="Update the app with this drawing"]')).to_be_hidden()
        draw_until(page, NOT_A_DIGIT_STROKES, _strokes_caption(page, 2))
        prediction = _metric(page, "Prediction")
        expect(prediction.get_by_test_id("stMetricValue")).to_have_text("not a digit")
        assert _shows_whole_text(prediction.get_by_test_id("stMetricValue"))
        # What it looks most like, apart and labelled, and no confidence for it.
        assert re.fullmatch(r"\d", metric_value(page, "Looks most like"))
        expect(page.get_by_test_id("stMetric").filter(
            has=page.get_by_text("Confidence", exact=True))).to_have_count(0)
        page.get_by_text("Letters, scribbles and shapes are refused").wait_for()
        assert_no_error_box(page)

        # A number: its reading shows without scrolling on a 1400x900 window.
        page.get_by_role("radio", name="A number", exact=True).click()
        page.get_by_text("Write a number").wait_for()
        assert _read_number(page, "17") == "17"
        for label in ("Number", "Confidence"):
            assert_on_screen(page, _metric(page, label))
        assert_no_error_box(page)
    finally:
        context.close()


def test_phone_sees_the_reading_beside_the_pad(browser, dashboard):
    context, page = _tab(browser, PHONE)
    try:
        open_page(page, dashboard, "", heading="Draw a digit")
        canvas(page).wait_for()
        assert_on_screen(page, canvas(page))
        draw_until(page, DIGIT_STROKES[1], _strokes_caption(page, 1))
        assert page.evaluate("window.scrollY") == 0
        # Pad, prediction and confidence on one screen, as drawn.
        assert_on_screen(page, canvas(page))
        for label in ("Prediction", "Confidence"):
            assert_on_screen(page, _metric(page, label))
        assert metric_value(page, "Prediction") == "1"
        # The correction row fits the width: every digit, the 9 too.
        pills = page.get_by_test_id("stButtonGroup").filter(
            has=page.get_by_role("radio", name="9", exact=True)).last
        nine = pills.get_by_role("radio", name="9", exact=True)
        nine.scroll_into_view_if_needed()
        box = nine.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
        # The pen width is in a popover.
        page.get_by_role("button", name=re.compile(r"^Pen \d+")).first.click()
        page.get_by_test_id("stSlider").filter(has_text="Pen width").wait_for()
        page.keyboard.press("Escape")

        # The number pad follows the width and still reads in its own coordinates.
        page.evaluate("window.scrollTo(0, 0)")
        page.get_by_role("radio", name="A number", exact=True).click()
        page.get_by_text("Write a number").wait_for()
        pad = canvas(page)
        expect(pad).to_have_count(1)
        box = pad.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
        assert box["width"] > 3 * box["height"], box  # the wide pad's shape, shrunk
        assert pad.evaluate("c => c.width") >= 840  # its pixels are the pad's own
        assert _read_number(page, "17") == "17"
        assert_on_screen(page, _metric(page, "Number"))
        assert_no_error_box(page)
    finally:
        context.close()


def test_phone_misclassified_grid_wraps_and_details_show_in_view(browser, dashboard):
    context, page = _tab(browser, PHONE)
    try:
        open_page(page, dashboard, "misclassified", heading=re.compile("^Misclassified"))
        tiles = page.get_by_role("button", name=re.compile(r"^\d→\d · \d+%$"))
        errors = dashboard.card()["test_errors"]
        expect(tiles).to_have_count(min(errors, 36))
        rows = {round(t.bounding_box()["y"]) for t in tiles.all()[:9]}
        assert len(rows) <= 3, rows  # three or more tiles a row, not one
        # A tile far down the page: its details open where the person is looking.
        tile = tiles.nth(min(errors, 36) - 1)
        tile.scroll_into_view_if_needed()
        tile.click()
        heading = page.get_by_role("heading", name=re.compile(r"Test digit #\d+"))
        heading.wait_for()
        dialog = page.get_by_role("dialog")
        dialog.get_by_test_id("stPlotlyChart").wait_for()
        assert_on_screen(page, heading)
        page.keyboard.press("Escape")
        expect(heading).to_have_count(0)
        assert_no_error_box(page)
    finally:
        context.close()


def _number_scan(tmp_path) -> tuple[str, object]:
    """Two MNIST test digits side by side, dark ink on white paper, as a PNG; and their text."""
    from digitclf.training.data import load_mnist

    images, labels = load_mnist("test")
    first, second = 0, int(np.flatnonzero(labels == 1)[0])
    row = np.concatenate([images[first], np.zeros((28, 10), np.uint8), images[second]], axis=1)
    path = tmp_path / "number.png"
    Image.fromarray(255 - np.kron(row, np.ones((6, 6), np.uint8))).save(path)
    return f"{labels[first]}{labels[second]}", path


def test_uploads_show_the_image_and_are_limited(page, dashboard, tmp_path):
    text, scan = _number_scan(tmp_path)
    open_page(page, dashboard, "", heading="Draw a digit")
    uploader = image_uploader(page)
    # One digit: the image itself next to what was read.
    page.get_by_role("radio", name="Upload", exact=True).click()
    digit = tmp_path / "digit.png"
    Image.open(scan).crop((0, 0, 168, 168)).save(digit)
    uploader.set_input_files(str(digit))
    page.get_by_text("What the model saw (28×28) · upload").wait_for()
    page.get_by_text("Your upload (168×168 pixels)").wait_for()
    # Refused before they reach the app: another type, and a file over the size limit.
    notes = tmp_path / "notes.txt"
    notes.write_text("not a picture")
    uploader.set_input_files(str(notes))
    page.get_by_text(re.compile("files are not allowed|File type not allowed")).wait_for()
    big = tmp_path / "big.png"
    big.write_bytes(b"\0" * (21 * 2**20))  # server.maxUploadSize is 20 MB
    uploader.set_input_files(str(big))
    page.get_by_text(re.compile(r"File must be 20(\.0)? ?MB or smaller")).wait_for()
    # A file that says it is a PNG and is not: a sentence naming it.
    fake = tmp_path / "fake.png"
    fake.write_bytes(b"this is not a picture")
    uploader.set_input_files(str(fake))
    page.get_by_text(re.compile(r"^Could not read fake\.png: .*not an image")).wait_for()
    assert_no_error_box(page)

    # A number from a file, shown with what was read.
    page.get_by_role("radio", name="A number", exact=True).click()
    page.get_by_text("Upload a photo or scan of a number").wait_for()
    image_uploader(page).set_input_files(str(scan))
    page.get_by_text(re.compile(r"^Your upload with what was read")).wait_for()
    if dashboard.shipped_model:
        assert metric_value(page, "Number") == text
    assert_no_error_box(page)


def test_charts_say_what_they_show(page, dashboard):
    open_page(page, dashboard, "evaluate", heading="Evaluate default")
    card = dashboard.card()
    assert metric_value(page, "Calibration error (ECE)") == f"{100 * card['ece']:.2f}%"
    charts = page.get_by_test_id("stPlotlyChart")
    expect(charts).to_have_count(3)
    curves, calibration = charts.nth(1), charts.nth(2)
    # Training curves: whole epochs on the axis (every one, or every other ... up to ten ticks),
    # no two accuracy ticks alike.
    curves.locator(".xtick").first.wait_for()
    epochs = {t.strip() for t in curves.locator(".xtick").all_text_contents()}
    step = -(-card["epochs_run"] // 10)
    assert epochs == {str(e) for e in range(1, card["epochs_run"] + 1, step)}, epochs
    accuracy_ticks = curves.locator(".y2tick").all_text_contents()  # the second plot
    assert len(accuracy_ticks) == len(set(accuracy_ticks)) >= 2, accuracy_ticks
    # Calibration: how many digits each bin holds, and the thin bins marked.
    legend = calibration.locator(".legendtext").all_text_contents()
    counts = card["reliability"]["bin_count"]
    if any(0 < c < 30 for c in counts):
        assert "fewer than 30 digits: too few to judge" in legend, legend
        page.get_by_text(re.compile(r"too few to tell whether their confidence")).wait_for()
    labels = set(calibration.locator(".bartext").all_text_contents())
    assert {f"{c:,}" for c in counts if c} <= labels, labels
    assert_no_error_box(page)


def test_train_form_strength_follows_augmentation(page, dashboard):
    open_page(page, dashboard, "train", heading="Train a model")
    strength = page.get_by_test_id("stSlider").filter(has_text="Augmentation strength")
    handle = strength.get_by_role("slider")
    augmentation = page.get_by_role("checkbox", name="Augmentation")
    if augmentation.is_checked():  # the preset's choice: start from "off"
        page.get_by_text("Augmentation", exact=True).click()
    expect(handle).to_be_disabled()
    page.get_by_text("Augmentation", exact=True).click()
    expect(handle).to_be_enabled()
    assert_no_error_box(page)


def _batch_files(tmp_path, count: int = 6) -> tuple[list, dict[str, str]]:
    """MNIST test digits as PNG scans (dark ink on white, 4x), a file that is no image, and
    each digit file's true label."""
    from digitclf.training.data import load_mnist

    images, labels = load_mnist("test")
    paths, truth = [], {}
    for i in range(count):
        path = tmp_path / f"scan-{i}.png"
        Image.fromarray(255 - np.kron(images[i], np.ones((4, 4), np.uint8))).save(path)
        paths.append(path)
        truth[path.name] = str(labels[i])
    notes = tmp_path / "notes.txt"
    notes.write_text("not a picture")
    return [*paths, notes], truth


def _download(page, button: str) -> str:
    with page.expect_download() as download:
        page.get_by_role("button", name=button).click()
    return download.value.path().read_text()


def test_batch_reads_uploads_into_a_table_to_filter_and_download(page, dashboard, tmp_path):
    import csv
    import io
    import json

    files, truth = _batch_files(tmp_path)
    number, scan = _number_scan(tmp_path)  # two digits side by side: read in number mode
    files.insert(-1, scan)
    open_page(page, dashboard, "batch", heading="Read a batch of images")
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files([str(p) for p in files])
    table = page.get_by_test_id("stDataFrame")
    cells = table.locator("td[role=gridcell]")
    expect(cells.filter(has_text="notes.txt")).to_have_count(1)  # the table, with every file
    for name in truth:
        expect(cells.filter(has_text=name)).to_have_count(1)
    wait_idle(page)

    rows = list(csv.DictReader(io.StringIO(_download(page, "Download CSV"))))
    assert [r["file"] for r in rows] == [p.name for p in files]
    assert list(rows[0]) == ["file", "reading", "confidence", "not_a_digit", "looks_like", "error"]
    for row in rows[:-2]:
        assert row["error"] == "", row
        if dashboard.shipped_model:  # the tiny stand-in model reads less surely
            assert row["reading"] == truth[row["file"]] and row["not_a_digit"] == "False", row
            assert float(row["confidence"]) > 0.9, row
    bad = rows[-1]
    assert bad["reading"] == "" and bad["confidence"] == ""
    assert re.search(r"not an image", bad["error"]), bad
    records = json.loads(_download(page, "Download JSON"))
    assert [r["path"] for r in records] == [p.name for p in files]
    assert len(records[0]["probabilities"]) == 10 and "error" in records[-1]

    # Only the errors: the table and the download hold the bad file alone.
    page.get_by_role("radio", name="Errors (1)").click()
    expect(cells.filter(has_text="scan-0.png")).to_have_count(0)
    expect(cells.filter(has_text="notes.txt")).to_have_count(1)
    wait_idle(page)
    only = list(csv.DictReader(io.StringIO(_download(page, "Download CSV"))))
    assert [r["file"] for r in only] == ["notes.txt"]

    # Back to all; selecting the first row shows that image and what the model saw.
    page.get_by_role("radio", name="All (8)").click()
    expect(cells.filter(has_text="scan-0.png")).to_have_count(1)
    wait_idle(page)
    box = table.bounding_box()
    page.mouse.click(box["x"] + 12, box["y"] + 35 + 17)  # the first row's selection box
    page.get_by_text("scan-0.png", exact=True).and_(page.locator("strong")).wait_for()
    page.get_by_text("The image", exact=True).wait_for()
    expect(page.get_by_text(re.compile(r"^\d · \d+\.\d%$"))).to_have_count(1)

    # As numbers: each file goes through read_number; a scan of one digit is a 1-digit number.
    page.get_by_role("radio", name="A number each", exact=True).click()
    page.get_by_text(re.compile(r"^8 images read as numbers\.")).wait_for()
    wait_idle(page)
    rows = list(csv.DictReader(io.StringIO(_download(page, "Download CSV"))))
    assert [r["file"] for r in rows] == [p.name for p in files]
    assert rows[-2]["error"] == "" and rows[-1]["error"] != ""
    if dashboard.shipped_model:
        assert rows[-2]["reading"] == number, rows[-2]
        assert [r["reading"] for r in rows[:-2]] == list(truth.values())
    assert_no_error_box(page)


def test_my_digits_export_and_import(page, dashboard, tmp_path):
    import csv
    import io
    import zipfile
    from collections import Counter

    from digitclf.training import mydigits
    from digitclf.training.data import load_mnist

    images, labels = load_mnist("test")
    source = tmp_path / "elsewhere"  # another person's set, exported by the package
    for i in range(10, 13):
        mydigits.add(255 - images[i], int(labels[i]), source)
    dataset = tmp_path / "their-digits.zip"
    dataset.write_bytes(mydigits.export_zip(source))
    broken = tmp_path / "broken.zip"
    with zipfile.ZipFile(broken, "w") as archive:
        archive.writestr("a.png", dataset.read_bytes()[:10])
    kept = Counter(p.name[0] for p in mydigits.files(dashboard.my_digits))
    before = sum(kept.values())

    open_page(page, dashboard, "", heading="Draw a digit")
    page.get_by_text("Export or import my digits").click()
    uploader = page.get_by_test_id("stExpander").get_by_test_id("stFileUploaderDropzoneInput")
    # A zip without labels.csv: a sentence, and nothing added.
    uploader.set_input_files(str(broken))
    page.get_by_role("button", name="Import broken.zip").click()  # named once it arrived
    page.get_by_text(re.compile(r"^Nothing imported: the zip has no labels\.csv")).wait_for()
    assert len(mydigits.files(dashboard.my_digits)) == before
    # The good one: three drawings more, counted on the page and in the download.
    uploader.set_input_files(str(dataset))
    page.get_by_role("button", name="Import their-digits.zip").click()
    page.get_by_text("Imported 3 drawings.").wait_for()
    assert len(mydigits.files(dashboard.my_digits)) == before + 3
    download_button = page.get_by_role("button", name=f"Download my digits ({before + 3} drawings)")
    with page.expect_download() as download:
        download_button.click()
    with zipfile.ZipFile(download.value.path()) as archive:
        rows = list(csv.DictReader(io.StringIO(archive.read("labels.csv").decode())))
        assert {r["file"] for r in rows} == {p.name for p in mydigits.files(dashboard.my_digits)}
    assert Counter(r["label"] for r in rows) - kept == Counter(str(x) for x in labels[10:13])
    assert_no_error_box(page)


def test_why_this_digit_shows_the_evidence_and_follows_the_drawing(page, dashboard):
    open_page(page, dashboard, "", heading="Draw a digit")
    canvas(page).wait_for()
    caption = _strokes_caption(page, 2)
    draw_until(page, DIGIT_STROKES[7], caption)
    read = metric_value(page, "Prediction", _result_row(page, caption))
    why = page.get_by_test_id("stExpander").filter(has_text="Why this digit?")
    why.get_by_text("Why this digit?", exact=True).click()
    legend = why.get_by_text(re.compile(rf"^Red: ink that argued for {read}; blue: ink that argued for \d"))
    legend.wait_for()
    # the heat map over the 28x28 input and over the drawing, as real pictures
    for name in ("Model input (28×28)", "On your image"):
        picture = why.get_by_test_id("stImage").filter(has_text=name).locator("img")
        expect(picture).to_have_count(1)
        # loaded, and at least 168 pixels wide (it may still be loading when it appears)
        page.wait_for_function("img => img.complete && img.naturalWidth >= 168", arg=picture.element_handle())
    # open, it follows each stroke
    _clear(page)
    draw_until(page, DIGIT_STROKES[1], _strokes_caption(page, 1))
    why.get_by_text(re.compile(r"^Red: ink that argued for 1; ")).wait_for()
    assert_no_error_box(page)


def test_models_page_downloads_a_model_and_exports_it(page, dashboard):
    import io
    import shutil
    import zipfile

    import onnxruntime

    from digitclf.training.data import load_mnist

    broken = dashboard.models / "dl-broken"
    shutil.copytree(dashboard.models / "default", broken)
    (broken / "model.onnx").write_bytes(b"cut short")


    def download(button: str) -> tuple[str, zipfile.ZipFile]:
        with page.expect_download() as event:
            page.get_by_role("button", name=button, exact=True).click()
        return event.value.suggested_filename, zipfile.ZipFile(io.BytesIO(event.value.path().read_bytes()))

    try:
        open_page(page, dashboard, "models", heading="Models")
        # the table fills its cells in after it appears, moving what is below it
        cells = page.get_by_test_id("stDataFrame").first.locator("td[role=gridcell]")  # the store's table
        expect(cells.filter(has_text=re.compile("^default$"))).to_have_count(1)
        # A broken model offers neither.
        choose(page, "Manage model", "dl-broken")
        expect(page.get_by_role("button", name="Download model", exact=True)).to_be_disabled()
        expect(page.get_by_role("button", name="Export", exact=True)).to_have_count(0)
        # The model's folder, file for file as in the store.
        choose(page, "Manage model", "default")
        name, archive = download("Download model")
        assert name == "default.zip"
        assert sorted(archive.namelist()) == ["default/card.json", "default/model.keras", "default/model.onnx"]
        for member in archive.namelist():
            assert archive.read(member) == (dashboard.models / member).read_bytes()
        # Exported as ONNX: made when asked, then downloaded; it reads as the stored model.
        choose(page, "Export for a model server", "ONNX (Triton, ONNX Runtime)")
        expect(page.get_by_role("button", name="Download export", exact=True)).to_be_disabled()
        page.get_by_role("button", name="Export", exact=True).click()
        name, archive = download("Download default-onnx.zip")
        assert name == "default-onnx.zip" and archive.namelist() == ["default/1/model.onnx"]
        exported = onnxruntime.InferenceSession(archive.read("default/1/model.onnx"),
                                                providers=["CPUExecutionProvider"])
        stored = onnxruntime.InferenceSession(str(dashboard.models / "default" / "model.onnx"),
                                              providers=["CPUExecutionProvider"])
        images = load_mnist("test")[0][:50].astype(np.float32)
        np.testing.assert_allclose(exported.run(None, {"image": images})[0],
                                   stored.run(None, {"image": images})[0], atol=1e-5)
        assert_no_error_box(page)
    finally:
        shutil.rmtree(broken, ignore_errors=True)
