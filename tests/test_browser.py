"""The site in a real headless Chromium (Debian's chromium + chromium-driver, driven by selenium),
served by waitress on loopback: what residents, lawyers and staff do, and that injected markup never
runs. Screenshots of the main pages go to test-artifacts/browser/ (git-ignored)."""

from __future__ import annotations

import shutil
import threading
import time
from importlib.util import find_spec
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts" / "browser"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

if find_spec("selenium") is None:
    pytest.skip("selenium is not installed (pip install -e '.[test]')", allow_module_level=True)
if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
    pytest.skip("headless Chromium not found: apt-get install chromium chromium-driver (.ci/run does)",
                allow_module_level=True)

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from lawkb.search import open_searcher  # noqa: E402
from lawkb.web import create_app  # noqa: E402

XSS = "<script>window.__pwned=1</script><img src=x onerror=\"window.__pwned=2\">"


class Server:
    """The app under waitress on a free loopback port, in a thread of the test process."""

    def __init__(self, app) -> None:
        from waitress import create_server

        self.server = create_server(app, host="127.0.0.1", port=0, threads=4)
        self.url = f"http://127.0.0.1:{self.server.effective_port}"
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.close()


def serve(kb, encoder=None) -> Server:
    searcher = open_searcher(kb, encoder=encoder, use_model=encoder is not None)
    return Server(create_app({"KB": kb, "SEARCHER": searcher, "RATE_LIMIT_PER_MINUTE": 0}))


@pytest.fixture(scope="module")
def site(search_kb):
    kb, encoder = search_kb
    server = serve(kb, encoder)
    yield server.url
    server.close()


@pytest.fixture(scope="module")
def downloads(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def browser(downloads):
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=412,915", "--lang=zh-CN"):
        opts.add_argument(arg)
    opts.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                           "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(60)
    driver.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()


def wait(driver, selector: str, timeout: float = 30):
    return WebDriverWait(driver, timeout).until(ec.presence_of_element_located((By.CSS_SELECTOR, selector)))


def shot(driver, name: str) -> None:
    driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))


def test_resident_asks_and_opens_an_article(browser, site):
    browser.get(site + "/")
    shot(browser, "01-home")
    box = browser.find_element(By.ID, "q")
    assert browser.switch_to.active_element == box  # the box has focus: type at once
    box.send_keys("楼上漏水物业不管怎么办", Keys.ENTER)
    first = wait(browser, ".hit h3 a")
    assert len(browser.find_elements(By.CSS_SELECTOR, ".hit")) == 10
    assert browser.find_elements(By.CSS_SELECTOR, ".snippet mark")
    shot(browser, "02-results")
    title = first.text
    first.click()
    heading = wait(browser, "#art-title")
    assert heading.text == title
    assert browser.find_element(By.ID, "citation").get_attribute("value") == title
    assert browser.find_elements(By.CSS_SELECTOR, ".breadcrumb li")
    shot(browser, "03-article")


def test_large_text_mode_and_keyboard(browser, site):
    browser.get(site + "/")
    before = browser.execute_script("return parseFloat(getComputedStyle(document.body).fontSize)")
    toggle = browser.find_element(By.ID, "large-toggle")
    toggle.send_keys(Keys.ENTER)  # a real <button>: the keyboard works
    after = browser.execute_script("return parseFloat(getComputedStyle(document.body).fontSize)")
    assert after > before * 1.2 and toggle.get_attribute("aria-pressed") == "true"
    browser.refresh()  # remembered on this device, with no cookie
    assert "large" in browser.execute_script("return document.documentElement.className")
    shot(browser, "04-home-large-text")
    browser.find_element(By.ID, "large-toggle").click()
    # On a page without autofocus, the first Tab reaches the skip link, which becomes visible and
    # moves focus to the content.
    browser.get(site + "/help")
    ActionChains(browser).send_keys(Keys.TAB).perform()
    active = browser.switch_to.active_element
    assert active.get_attribute("class") == "skip" and active.location["x"] >= 0
    ActionChains(browser).send_keys(Keys.ENTER).perform()
    assert browser.switch_to.active_element.get_attribute("id") == "main"


def test_lawyer_looks_up_and_copies_citation(browser, site):
    browser.get(site + "/lawyer/")
    shot(browser, "05-lawyer")
    browser.find_element(By.ID, "ref").send_keys("民法典第1032条", Keys.ENTER)
    wait(browser, "#art-title")
    expected = "《中华人民共和国民法典》第一千零三十二条"
    assert browser.find_element(By.ID, "art-title").text == expected
    browser.execute_cdp_cmd("Browser.grantPermissions", {
        "origin": site, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]})
    browser.find_element(By.ID, "copy-citation").click()
    WebDriverWait(browser, 10).until(
        lambda d: d.find_element(By.ID, "copy-status").text.startswith("已复制"))
    pasted = browser.execute_async_script(
        "var done = arguments[0]; navigator.clipboard.readText().then(done, function (e) { done('ERR ' + e); });")
    assert pasted == expected
    shot(browser, "06-article-copied")


def test_staff_upload_task_list_and_download_report(browser, site, downloads, tmp_path):
    if find_spec("lawkb.tools.taskcheck") is None:
        pytest.skip("lawkb.tools.taskcheck (legal-tools issue) is not present yet")
    tasks = tmp_path / "tasks.csv"
    tasks.write_text("事项名称,下达单位,备注\n组织开展人民调解工作,司法所,\n协助开展全国人口普查,统计局,急\n",
                     encoding="utf-8")
    browser.set_window_size(390, 844)   # a phone: the result table becomes one card per task
    browser.get(site + "/staff/tasks")
    browser.find_element(By.ID, "tasks-file").send_keys(str(tasks))
    browser.find_element(By.CSS_SELECTOR, "form button.primary").click()
    wait(browser, "#tasks-table", timeout=120)
    assert len(browser.find_elements(By.CSS_SELECTOR, "#tasks-table tbody tr")) == 2
    note = browser.find_element(By.ID, "tasks-columns").text
    assert "事项名称" in note and "下达单位" in note and "备注" in note   # which columns were read, which not
    # At 390 px each cell spans the card instead of wrapping one character per line.
    cells = browser.find_elements(By.CSS_SELECTOR, "#tasks-table tbody td")
    assert cells and min(c.size["width"] for c in cells) > 250, [c.size["width"] for c in cells]
    assert "统计局" in browser.find_element(By.ID, "tasks-table").text
    shot(browser, "07-tasks")
    browser.set_window_size(412, 915)
    browser.find_element(By.ID, "download-report").click()
    deadline = time.time() + 60
    while time.time() < deadline and not list(downloads.glob("*.xlsx")):
        time.sleep(0.5)
    reports = list(downloads.glob("*.xlsx"))
    assert reports, "no report downloaded"
    from openpyxl import load_workbook

    text = " ".join(str(c.value) for row in load_workbook(reports[0]).active.iter_rows() for c in row)
    assert "人民调解" in text


def test_other_pages_screenshots(browser, site):
    browser.get(site + "/lawyer/lookup?ref=民事诉讼法第1条")
    browser.find_element(By.CSS_SELECTOR, ".breadcrumb a").click()
    wait(browser, "#toc-title")
    shot(browser, "08-law")
    browser.get(site + "/?q=zzqqxx")
    wait(browser, "#no-results")
    shot(browser, "11-nothing-fits")
    browser.set_window_size(1280, 900)  # the same pages on a desktop screen
    try:
        browser.get(site + "/?q=邻居装修噪音太大&region=北京")
        wait(browser, ".hit")
        shot(browser, "13-results-desktop")
        browser.find_element(By.CSS_SELECTOR, ".hit h3 a").click()
        wait(browser, "#art-title")
        shot(browser, "14-article-desktop")
    finally:
        browser.set_window_size(412, 915)
    if find_spec("lawkb.tools.citecheck") is not None:
        browser.get(site + "/lawyer/cite")
        browser.find_element(By.ID, "cite-text").send_keys("根据《中华人民共和国民法典》第一千零三十二条和《民法典》第九千条")
        browser.find_element(By.CSS_SELECTOR, "form button.primary").click()
        wait(browser, "#cite-result")
        assert len(browser.find_elements(By.CSS_SELECTOR, ".marked mark.cite")) == 2
        shot(browser, "09-cite")
    if find_spec("lawkb.tools.convention") is not None:
        browser.get(site + "/staff/convention")
        browser.find_element(By.ID, "conv-text").send_keys("第一条 业主应当爱护公共设施。\n第二条 拖欠物业费的，物业公司可以停水停电。")
        browser.find_element(By.CSS_SELECTOR, "form button.primary").click()
        wait(browser, "#conv-result")
        shot(browser, "10-convention")


def test_script_in_query_never_runs(browser, site):
    from urllib.parse import quote

    browser.get(site + "/?q=" + quote(XSS))
    wait(browser, "#results-title")
    assert browser.execute_script("return window.__pwned === undefined")
    assert browser.find_element(By.ID, "q").get_attribute("value") == XSS  # shown back as text
    assert not browser.execute_script("return document.querySelectorAll('script:not([src]), img[src=\"x\"]').length")


@pytest.fixture(scope="module")
def hostile_site(tmp_path_factory):
    """A KB whose one ingested document carries markup in its title and text."""
    from lawkb.ingest.pipeline import ingest
    from lawkb.search import open_kb
    from lawkb.search.store.embedded.indexer import build_index

    folder = tmp_path_factory.mktemp("hostile")
    (folder / "规约.md").write_text(
        f"# 示例小区{XSS}管理规约\n\n第一条 为了维护业主的合法权益{XSS}，制定本规约。\n\n"
        "第二条 业主应当遵守本规约第一条的规定。\n", encoding="utf-8")
    kb = open_kb(str(tmp_path_factory.mktemp("hostilekb")), create=True)
    report = ingest(kb, [folder])
    assert report.added == 1, report.failed
    build_index(kb)
    server = serve(kb)
    yield server.url
    server.close()
    kb.close()


def test_script_in_ingested_document_never_runs(browser, hostile_site):
    browser.get(hostile_site + "/?q=维护业主的合法权益&level=自治规约")
    link = wait(browser, ".hit h3 a")
    assert "<script>" in browser.find_element(By.CSS_SELECTOR, ".snippet").text or "<img" in link.text
    assert browser.execute_script("return window.__pwned === undefined")
    link.click()
    wait(browser, "#art-title")
    assert "<script>" in browser.find_element(By.CSS_SELECTOR, ".article-text").text
    assert browser.execute_script("return window.__pwned === undefined")
    assert not browser.execute_script("return document.querySelectorAll('script:not([src]), img[src=\"x\"]').length")
    shot(browser, "12-hostile-document")
