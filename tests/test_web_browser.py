"""The web in a real browser (Debian's chromium + chromedriver, driven by selenium, headless):
an agency opens its link, uploads a return with errors, sees them at their cells, downloads the
annotated copy, uploads the corrected file and sees 已通过; the office, logged in, sees its
dashboard change (the live count, without reloading). Each page is saved as a screenshot, to be
looked at: in a temporary folder (printed), or under docs/images/ — the pictures the docs show —
when TOOLKIT_SCREENSHOTS=docs/images is set (a test run never rewrites the checkout by itself)."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import zipfile
from pathlib import Path

import pytest
from web_fixtures import D002, PASSWORD, corrected_d002, make_site
from web_server import running_server

ROOT = Path(__file__).resolve().parent.parent
IMAGES = Path(os.environ.get("TOOLKIT_SCREENSHOTS") or Path(tempfile.gettempdir()) / "toolkit-screenshots")
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()),
                                 reason="chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)")]


@pytest.fixture()
def browser(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = Path(tempfile.mkdtemp(prefix="toolkit-chromium-"))
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={profile}", "--window-size=1280,900", "--lang=zh-CN"):
        opts.add_argument(flag)
    opts.add_experimental_option("prefs", {"download.default_directory": str(downloads), "download.prompt_for_download": False,
                                           "intl.accept_languages": "zh-CN,zh"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.downloads = downloads  # type: ignore[attr-defined]
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _shot(driver, name: str, width: int = 1280) -> Path:
    """A full-page screenshot at ``width`` (390: a phone)."""
    driver.set_window_size(width, 900)           # the width first: the height follows from it
    time.sleep(0.3)
    height = driver.execute_script("return Math.max(document.documentElement.scrollHeight, 600)")
    driver.set_window_size(width, min(int(height) + 100, 4000))
    time.sleep(0.3)
    IMAGES.mkdir(parents=True, exist_ok=True)
    path = IMAGES / name
    driver.save_screenshot(str(path))
    driver.set_window_size(1280, 900)
    assert path.stat().st_size > 10_000
    return path


def _wait(cond, timeout=30.0, what=""):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = cond()
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_agency_and_office_in_a_real_browser(browser, tmp_path):
    from selenium.webdriver.common.by import By

    from toolkit.collection import Store

    site = make_site(str(tmp_path / "collect.db"))
    fixed = corrected_d002(tmp_path)
    others = [p for p in sorted(D002.parent.glob("*.xlsx")) if not p.name.startswith("D002")]
    with Store(site.db) as store:           # the rest of the sample collection, so the dashboard is lived-in
        store.receive([str(p) for p in others], jobs=2)
        before = store.status().counts()["passed"]
    with running_server(site.db, log=tmp_path / "server.log") as base:
        # the office logs in first and keeps its dashboard open
        browser.get(base + "/office")
        assert "统计部门登录" in browser.page_source
        _shot(browser, "web-login.png")
        browser.find_element(By.ID, "password").send_keys(PASSWORD)
        browser.find_element(By.ID, "login").click()
        _wait(lambda: "报送情况" in browser.title, what="the dashboard")
        passed = browser.find_element(By.CSS_SELECTOR, '[data-count="passed"]')
        assert passed.text == str(before)
        office = browser.current_window_handle

        # the agency, in another tab, opens its link
        browser.switch_to.new_window("tab")
        browser.get(f"{base}/a/{site.links['D002']}")
        assert browser.find_element(By.ID, "agency-name").text == "D002 市经济和信息化局"
        assert browser.find_element(By.ID, "status").text == "未报送"
        _shot(browser, "web-agency.png", width=390)

        # uploads a return with errors and sees each at its cell
        browser.find_element(By.ID, "file").send_keys(str(D002))
        browser.find_element(By.ID, "send").click()
        _wait(lambda: browser.find_elements(By.ID, "verdict"), what="the check result")
        assert browser.find_element(By.ID, "verdict").text.startswith("有错误")
        cells = [td.text for td in browser.find_elements(By.CSS_SELECTOR, "table.issues td.cell")]
        assert "二、主动公开情况!B13" in cells
        assert "应填数字" in browser.find_element(By.CSS_SELECTOR, "table.issues").text
        assert browser.find_element(By.ID, "status").text == "已报送有误"
        _shot(browser, "web-agency-errors.png", width=390)

        # downloads the annotated copy
        browser.find_element(By.ID, "download-copy").click()
        copy = _wait(lambda: [p for p in browser.downloads.iterdir() if p.suffix == ".xlsx"], what="the annotated copy")[0]
        _wait(lambda: zipfile.is_zipfile(copy), what="a complete download")
        import openpyxl
        assert openpyxl.load_workbook(copy).sheetnames[0] == "退回说明"

        # uploads the corrected file and sees 已通过
        browser.find_element(By.ID, "file").send_keys(str(fixed))
        browser.find_element(By.ID, "send").click()
        _wait(lambda: browser.find_elements(By.ID, "verdict") and browser.find_element(By.ID, "verdict").text.startswith("已通过"),
              what="已通过")
        assert browser.find_element(By.ID, "status").text == "已通过"
        assert len(browser.find_elements(By.CSS_SELECTOR, "#history tbody tr")) == 2
        _shot(browser, "web-agency-passed.png", width=390)

        # the office's dashboard changes by itself (the live count), then on reload the row too
        browser.switch_to.window(office)
        _wait(lambda: browser.find_element(By.CSS_SELECTOR, '[data-count="passed"]').text == str(before + 1), timeout=40, what="the live count")
        browser.refresh()
        assert "已通过" in browser.find_element(By.ID, "row-D002").text
        _shot(browser, "web-dashboard.png")
        browser.find_element(By.LINK_TEXT, "市经济和信息化局").click()
        _wait(lambda: "相比的变化" in browser.page_source, what="the history")
        _shot(browser, "web-office-agency.png")
        # drag and drop (the JavaScript enhancement): a file dropped on the form is sent and checked
        import base64
        d003 = tmp_path / "D003_市教育局.xlsx"          # the sample, as other bytes (a zip comment): a new version
        shutil.copy(D002.parent / d003.name, d003)
        with zipfile.ZipFile(d003, "a") as z:
            z.comment = b"dropped"
        browser.get(f"{base}/a/{site.links['D003']}")
        versions_before = len(browser.find_elements(By.CSS_SELECTOR, "#history tbody tr"))
        browser.execute_script("""
            const bytes = Uint8Array.from(atob(arguments[0]), c => c.charCodeAt(0));
            const dt = new DataTransfer();
            dt.items.add(new File([bytes], arguments[1]));
            document.getElementById("upload-form").dispatchEvent(new DragEvent("drop", {dataTransfer: dt, bubbles: true, cancelable: true}));
        """, base64.b64encode(d003.read_bytes()).decode(), d003.name)
        _wait(lambda: browser.find_elements(By.ID, "flash"), what="the answer to the drop")
        _wait(lambda: len(browser.find_elements(By.CSS_SELECTOR, "#history tbody tr")) == versions_before + 1, what="the dropped file checked")
        assert browser.find_element(By.ID, "verdict").text.startswith("有错误")
        assert "已接收为版本" in browser.find_element(By.ID, "flash").text
    log = (tmp_path / "server.log").read_text(encoding="utf-8", errors="replace")
    assert site.links["D002"] not in log and "/a/***" in log
