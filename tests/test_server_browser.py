"""``cnn serve`` used as a person uses it: Debian's Chromium, driven by Playwright for Python.

A real ``python -m cnn serve`` runs on a free loopback port; the page is loaded offline
(Chromium's background networking off), MNIST test digits are drawn on the canvas with mouse
events along strokes traced from the images (``digit_strokes``), a photo is uploaded, the model
is switched, and the console must stay free of errors.

Needs the ``chromium`` apt package and the ``playwright`` Python package (the test extra); it
skips without them, except under CI (``CI`` set), where it fails: ``.ci/run`` installs both.
Set ``CNN_UPDATE_SCREENSHOT=1`` to write the README's screenshot, docs/images/serve.png.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import load_script
from digit_strokes import digit_strokes

ROOT = Path(__file__).resolve().parents[1]
SERVED = ROOT / "weight_output" / "weight_detailsC(16,3)-P2-C(32,3)-P2-C(64,3)-P2-FC512-FC10.npz"
SCREENSHOT = ROOT / "docs" / "images" / "serve.png"
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-default-apps", "--disable-extensions"]

pytestmark = pytest.mark.slow


def missing(what: str) -> None:
    """Skip locally; fail under CI, where the browser tests must run."""
    if os.environ.get("CI"):
        pytest.fail(f"{what} (CI must run the browser tests: see .ci/run)")
    pytest.skip(what)


@pytest.fixture(scope="module")
def chromium():
    path = shutil.which("chromium")
    if path is None:
        missing("Debian's chromium is not installed: apt-get install chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("playwright is not installed: pip install -e '.[test]'")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def server():
    """``python -m cnn serve --port 0`` (the large shipped model) in a subprocess; yields its
    URL."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    proc = subprocess.Popen([sys.executable, "-m", "cnn", "serve", "--port", "0", "--quiet",
                             "--weights", str(SERVED)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        url = None
        for _ in range(5):
            line = proc.stdout.readline()
            match = re.search(r"(http://127\.0\.0\.1:\d+/)", line)
            if match:
                url = match.group(1)
                break
        assert url, f"cnn serve printed no URL: {proc.stderr.read() if proc.poll() else line}"
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def page(chromium, server, tmp_path):
    """A fresh browser context on the page; fails the test on any console error."""
    context = chromium.new_context(viewport={"width": 1100, "height": 1000})
    pg = context.new_page()
    errors = []
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.goto(server)
    pg.wait_for_function("document.querySelectorAll('#model option').length > 0")
    yield pg
    context.close()
    assert errors == [], f"console errors: {errors}"


def lit_pixels(pg, canvas: str) -> int:
    """Pixels brighter than mid-grey in a 28 x 28 canvas of the page."""
    return pg.evaluate(
        f"() => {{ const d = document.querySelector('{canvas}').getContext('2d')"
        ".getImageData(0, 0, 28, 28).data; let n = 0;"
        " for (let i = 0; i < d.length; i += 4) n += d[i] > 128; return n; }")


def wait_for_answer(pg) -> None:
    """Until the shown answer is for the current drawing."""
    pg.wait_for_function(
        "() => { const r = document.querySelector('#result');"
        " return r.dataset.revision === document.querySelector('#pad').dataset.revision"
        " && ['done', 'error', 'rejected'].includes(r.dataset.state); }", timeout=15000)


def draw(pg, strokes) -> None:
    box = pg.locator("#pad").bounding_box()
    for stroke in strokes:
        x0, y0 = stroke[0]
        pg.mouse.move(box["x"] + x0, box["y"] + y0)
        pg.mouse.down()
        for x, y in stroke[1::2] + [stroke[-1]]:
            pg.mouse.move(box["x"] + x, box["y"] + y)
        pg.mouse.up()


def test_drawn_mnist_test_digits_are_read(page, subset):
    _, (x_test, y_test) = subset
    size = page.locator("#pad").bounding_box()["height"]  # a 2:1 canvas: a digit fills its height
    read = []
    for image, label in zip(x_test[:20], y_test[:20]):
        page.click("#clear")
        draw(page, digit_strokes(image, size))
        wait_for_answer(page)
        read.append(page.text_content("#digit"))
    right = sum(r == str(int(lab)) for r, lab in zip(read, y_test[:20]))
    assert right >= 19, f"read {read} for labels {list(map(int, y_test[:20]))}"
    # The page shows the 28 x 28 input, one bar per digit and the maps of every spatial token.
    assert page.locator("#bars li").count() == 10
    labels = page.locator("#maps .token h3").all_text_contents()
    assert [s.split(":")[0] for s in labels] == [
        "1 C(16,3) conv 3x3 + ReLU", "2 P2 max pool 2x2", "3 C(32,3) conv 3x3 + ReLU",
        "4 P2 max pool 2x2", "5 C(64,3) conv 3x3 + ReLU", "6 P2 max pool 2x2"]
    assert page.locator("#maps .token").first.locator("canvas").count() == 16
    assert 40 < lit_pixels(page, "#input28") < 400  # a digit's worth of bright pixels in the 28 x 28 input


def test_two_digits_drawn_side_by_side_read_as_a_number_with_a_box_each(page, subset):
    _, (x_test, y_test) = subset
    size = page.locator("#pad").bounding_box()["height"]
    four, two = (int(np.nonzero(y_test == d)[0][0]) for d in (4, 2))
    draw(page, digit_strokes(x_test[four], size))
    draw(page, [[(x + size, y) for x, y in s] for s in digit_strokes(x_test[two], size)])
    wait_for_answer(page)
    assert page.text_content("#digit") == "42"
    assert page.get_attribute("#result", "data-number") == "42"
    boxes = page.locator("#pad-boxes .box")
    assert boxes.count() == 2
    pad = page.locator("#pad").bounding_box()
    first, second = boxes.nth(0).bounding_box(), boxes.nth(1).bounding_box()
    middle = pad["x"] + pad["width"] / 2  # the 4 left of the middle, the 2 right of it
    assert pad["x"] < first["x"] and first["x"] + first["width"] < middle < second["x"]
    assert second["x"] + second["width"] < pad["x"] + pad["width"]
    assert page.locator("#number-bars .digit-row").count() == 2
    assert page.locator("#number-bars .digit-row").nth(0).locator(".mini li").count() == 10
    assert page.locator("#number-bars .digit-row li.top").all_text_contents() == ["4", "2"]
    assert not page.is_visible("#bars")
    # The first digit goes through the layer view; picking the 2 shows the 2's input and maps.
    assert "digit 1 of 2 (4)" in page.text_content("#input-heading")
    four_input = lit_pixels(page, "#input28")
    page.locator("#digit .pick").nth(1).click()
    assert "digit 2 of 2 (2)" in page.text_content("#input-heading")
    assert "picked" in boxes.nth(1).get_attribute("class")
    assert lit_pixels(page, "#input28") != four_input
    assert page.locator("#maps .token").count() == 6
    # The boxes are an overlay: the drawing holds only black and white pixels of ink.
    colours = page.evaluate(
        "() => { const d = document.querySelector('#pad').getContext('2d')"
        ".getImageData(0, 0, 560, 280).data; const s = new Set();"
        " for (let i = 0; i < d.length; i += 4) if (d[i] !== d[i + 2]) s.add(d[i]);"
        " return s.size; }")
    assert colours == 0
    # One digit again: no boxes, the single-digit bars.
    page.click("#clear")
    draw(page, digit_strokes(x_test[four], size))
    wait_for_answer(page)
    assert page.text_content("#digit") == "4" and boxes.count() == 0
    assert page.is_visible("#bars") and not page.is_visible("#number-bars")


def test_undo_and_clear_with_buttons_and_keys(page, subset):
    _, (x_test, _) = subset
    size = page.locator("#pad").bounding_box()["height"]
    strokes = digit_strokes(x_test[0], size)  # a 7
    draw(page, strokes)
    wait_for_answer(page)
    assert page.text_content("#digit") == "7"
    page.focus("#pad")
    page.keyboard.press("Escape")  # clears
    assert page.get_attribute("#result", "data-state") == "empty"
    draw(page, strokes)
    draw(page, [[(size * 0.1, size * 0.9), (size * 0.9, size * 0.9)]])  # an extra bar below
    wait_for_answer(page)
    page.keyboard.press("Control+z")
    wait_for_answer(page)
    assert page.text_content("#digit") == "7"
    page.click("#undo")
    page.click("#undo")
    page.click("#undo")  # more undos than strokes: empty, no request, no error
    assert page.get_attribute("#result", "data-state") == "empty"
    assert page.text_content("#digit") == "?"


def test_photo_upload_shows_photo_and_its_digit(page):
    page.set_input_files("#photo", str(ROOT / "custom_test_images" / "3_1.jpg"))
    page.wait_for_function("document.querySelector('#result').dataset.state === 'done'")
    assert page.text_content("#digit") == "3"
    assert page.is_visible("#photo-preview")
    assert page.evaluate("document.querySelector('#photo-preview').naturalWidth") > 0
    assert "3_1.jpg" in page.text_content("#confidence")
    assert 40 < lit_pixels(page, "#photo28") < 400  # its 28 x 28 beside it
    assert lit_pixels(page, "#photo28") == lit_pixels(page, "#input28")


def test_a_photo_of_a_non_digit_shows_not_a_digit_with_the_reason(page, tmp_path, capsys):
    import json

    from cnn.cli import main

    mnd = load_script(ROOT / "scripts" / "make_non_digits.py", "mnd")
    assert mnd.main(["--out", str(tmp_path / "nd"), "--seed", "31", "--per-kind", "1"]) == 0
    files = sorted(str(p) for p in (tmp_path / "nd").rglob("*") if p.is_file())
    capsys.readouterr()
    main(["predict", *files, "--weights", str(SERVED), "--json"])
    answers = json.loads(capsys.readouterr().out)["predictions"]
    gated = [a for a in answers if a["rejected"] and a["not_digit"] is not None]
    assert gated, "the shipped gate rejected none of the generated non-digits"
    page.set_input_files("#photo", gated[0]["file"])
    page.wait_for_function("document.querySelector('#result').dataset.state === 'rejected'")
    assert page.text_content("#digit") == "not a digit"
    assert page.is_visible("#rejected") and page.text_content("#rejected") == gated[0]["reason"]
    assert not page.is_visible("#unsure") and not page.is_visible("#error")
    assert page.locator("#bars li.top").count() == 0  # no digit is marked as the answer
    page.set_input_files("#photo", str(ROOT / "custom_test_images" / "3_1.jpg"))
    page.wait_for_function("document.querySelector('#result').dataset.state === 'done'")
    assert page.text_content("#digit") == "3" and not page.is_visible("#rejected")


def test_switching_models_predicts_again_with_the_chosen_one(page):
    options = page.locator("#model option")
    assert options.count() >= 2
    texts = options.all_text_contents()
    assert any(re.search(r"C\(8,5\)-P2-C\(16,3\)-P2-FC128-FC10 \(99\.\d\d% test accuracy\)", t)
               for t in texts), texts
    page.set_input_files("#photo", str(ROOT / "custom_test_images" / "5_2.jpg"))
    page.wait_for_function("document.querySelector('#result').dataset.state === 'done'")
    first = page.locator("#maps .token h3").first.text_content()
    other = options.nth(1).get_attribute("value")
    with page.expect_response(lambda r: "/api/predict" in r.url and "model=" in r.url) as info:
        page.select_option("#model", other)
    assert info.value.json()["weights"] == other
    page.wait_for_function("document.querySelector('#result').dataset.state === 'done'")
    assert page.locator("#maps .token h3").first.text_content() != first
    assert page.text_content("#model-info") == other


def test_page_fits_a_375_px_phone_and_is_keyboard_reachable(chromium, server):
    context = chromium.new_context(viewport={"width": 375, "height": 800}, has_touch=True)
    pg = context.new_page()
    pg.goto(server)
    pg.wait_for_function("document.querySelectorAll('#model option').length > 0")
    assert pg.evaluate("document.documentElement.scrollWidth") <= 375
    focused = []
    for _ in range(6):
        pg.keyboard.press("Tab")
        focused.append(pg.evaluate("document.activeElement.id"))
    assert {"model", "pad", "undo", "clear", "photo"} <= set(focused)
    for element in ("#pad", "#model", "#photo"):
        assert (pg.get_attribute(element, "aria-label") or pg.locator(
            f"label[for={element[1:]}]").count()), element
    # A finger draws a 1: touch events (through the DevTools protocol) become pointer events.
    pg.locator("#pad").scroll_into_view_if_needed()
    box = pg.locator("#pad").bounding_box()
    assert box["x"] + box["width"] <= 375
    cdp = context.new_cdp_session(pg)
    x = box["x"] + box["width"] * 0.5
    points = [box["y"] + box["height"] * f for f in np.linspace(0.15, 0.85, 15)]
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart",
                                          "touchPoints": [{"x": x, "y": points[0]}]})
    for y in points[1:]:
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove",
                                              "touchPoints": [{"x": x, "y": y}]})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    wait_for_answer(pg)
    assert pg.text_content("#digit") == "1"
    context.close()


def test_openapi_docs_render_offline(page, server):
    page.goto(server + "docs")
    page.get_by_text("/api/predict", exact=True).first.wait_for(timeout=15000)
    assert page.get_by_text("/api/models", exact=True).count() >= 1


def test_screenshot_for_the_readme(page, subset, tmp_path):
    _, (x_test, _) = subset
    size = page.locator("#pad").bounding_box()["height"]
    draw(page, digit_strokes(x_test[1], size))  # a 2
    wait_for_answer(page)
    out = tmp_path / "serve.png"
    page.screenshot(path=str(out), full_page=True)
    import cv2

    shot = cv2.imread(str(out))
    assert shot is not None and shot.shape[1] == 1100 and shot.shape[0] > 600
    assert np.std(shot) > 20  # not a blank page
    if os.environ.get("CNN_UPDATE_SCREENSHOT"):
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(out, SCREENSHOT)
