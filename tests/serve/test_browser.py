"""Real-browser tests: headless Chromium (Debian's chromium + chromium-driver, driven by selenium) fills the
form served by uvicorn on 127.0.0.1, submits it and reads the result page."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hccrad.models.bundle import bundle_scores, load_bundle
from hccrad.models.published import load_published
from hccrad.serve import create_app
from hccrad.testing import assert_close

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
selenium = pytest.importorskip("selenium", reason="selenium is not installed (requirements/serve.txt)")
pytestmark = pytest.mark.skipif(CHROMIUM is None or CHROMEDRIVER is None,
                                reason="needs Debian packages chromium and chromium-driver "
                                       "(apt-get install -y chromium chromium-driver)")

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import WebDriverException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Server:
    """uvicorn in a thread on 127.0.0.1:<free port>."""

    def __init__(self, app) -> None:
        import uvicorn

        self.port = _free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    access_log=False, lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1100,1400",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def _fill(driver, values: dict[str, str]) -> None:
    for name, value in values.items():
        el = driver.find_element(By.NAME, name)
        if el.tag_name == "select":
            Select(el).select_by_value(value)
        else:
            el.clear()
            el.send_keys(value)
    # Mark this page, submit, and wait for a page without the mark. (EC.staleness_of on the old form raced
    # with Chromium's navigation: "Node with given id does not belong to the document" instead of a stale
    # reference; a WebDriverException while the page is being swapped just means "not there yet".)
    driver.execute_script("window.__hccradOldPage = true;")
    driver.find_element(By.ID, "submit").click()
    WebDriverWait(driver, 30, ignored_exceptions=(WebDriverException,)).until(_new_page_loaded)


def _new_page_loaded(driver) -> bool:
    return bool(driver.execute_script(
        "return window.__hccradOldPage !== true && document.readyState === 'complete';"))


def test_fill_submit_and_read_probability(browser, bundle_dir, tmp_path):
    patient = {"TBIL": 18.5, "AFP": 2.7, "VP": 1}
    with _Server(create_app(bundle_dir)) as url:
        browser.get(url + "/")
        assert "synthetic_clinical" in browser.title
        _fill(browser, {"TBIL": "18.5", "AFP": "2.7", "VP": "1"})
        prob = browser.find_element(By.ID, "probability")
        shown = float(prob.get_attribute("data-value"))
        ref = bundle_scores(load_bundle(bundle_dir), pd.DataFrame([patient]))[0]
        assert_close(shown, 1 / (1 + np.exp(-ref)), rtol=0, atol=1e-6, what="probability on the page")
        assert prob.text == f"{100 / (1 + np.exp(-ref)):.1f}%"
        assert "95% CI" in browser.find_element(By.ID, "uncertainty").text
        assert browser.find_element(By.CSS_SELECTOR, "svg.score-figure").is_displayed()
        assert "Risk group" in browser.find_element(By.ID, "risk-1").text
        shot = tmp_path / "result.png"
        assert browser.save_screenshot(str(shot))
        data = shot.read_bytes()
        assert len(data) > 1000 and data[:8] == b"\x89PNG\r\n\x1a\n"


def test_out_of_range_message_next_to_field(browser, bundle_dir):
    with _Server(create_app(bundle_dir)) as url:
        browser.get(url + "/")
        _fill(browser, {"TBIL": "900", "AFP": "", "VP": "0"})
        msg = browser.find_element(By.CSS_SELECTOR, '[data-error-for="TBIL"]')
        assert "far outside the training range" in msg.text and msg.is_displayed()
        # the message sits in the same row as its input, right below it
        field = browser.find_element(By.NAME, "TBIL")
        assert msg.find_element(By.XPATH, "..") == field.find_element(By.XPATH, "..")
        assert msg.location["y"] > field.location["y"]
        assert "required" in browser.find_element(By.CSS_SELECTOR, '[data-error-for="AFP"]').text
        assert browser.find_element(By.NAME, "TBIL").get_attribute("value") == "900"


def test_published_model_with_token(browser, tmp_path):
    folder = load_published("wu2025_clinical").save(tmp_path / "wu2025_clinical")
    with _Server(create_app(folder, token="tok-123")) as url:
        browser.get(url + "/")
        assert "valid token" in browser.find_element(By.TAG_NAME, "body").text
        browser.get(url + "/?token=tok-123")
        _fill(browser, {"Comorbidities": "0", "VP": "1", "TBIL": "15", "Cirrhosis": "1"})
        shown = float(browser.find_element(By.ID, "score").get_attribute("data-value"))
        assert_close(shown, 1.9806 + 1.2923 - 0.0470 * 15 - 1.0785, rtol=0, atol=1e-6, what="published score")


def test_imaging_upload_in_browser(browser, imaging_bundle, case):
    _, _, planted, paths = case
    with _Server(create_app(imaging_bundle)) as url:
        browser.get(url + "/")
        for role, p in paths.items():
            browser.find_element(By.NAME, f"file_{role}").send_keys(str(Path(p).resolve()))
        _fill(browser, {"TBIL": "21"})
        img = browser.find_element(By.ID, "overlay")
        assert img.is_displayed() and browser.execute_script("return arguments[0].naturalWidth", img) > 100
        assert f"habitat 3 {100 * planted[3]:.0f}%" in browser.find_element(By.TAG_NAME, "body").text
