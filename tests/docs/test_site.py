"""The documentation site: built strictly from the checkout (as `keras-backbones docs` builds
it), every family, variant, public function and command on its page, and read as a reader
reads it: in headless Chromium (Debian's chromium and chromedriver, driven by selenium), over
HTTP, with screenshots kept in test-artifacts/site/.

CI sets KERAS_BACKBONES_REQUIRE_BROWSER=1: without the browser the browser check fails there;
elsewhere it is skipped, naming what to install."""

import functools
import http.server
import os
import re
import threading

import pytest

from keras_backbones import cli, docs, registry
from tests.support import ROOT

pytestmark = pytest.mark.xdist_group("docs_site")  # one worker builds the site once

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
ARTIFACTS = ROOT / "test-artifacts" / "site"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    return docs.build(tmp_path_factory.mktemp("site") / "site")


def text_of(path):
    """A built page's text, tags stripped (highlighted code's tokens join again)."""
    return re.sub(r"<[^>]+>", "", path.read_text())


def test_every_family_and_variant_has_its_page(site):
    table = (site / "models" / "index.html").read_text()
    for family, members in docs.families().items():
        page = text_of(site / "models" / f"{docs.slug(family)}.html")
        for name in members:
            assert name in page and f"<code>{name}</code>" in table, (family, name)
        for builder in {registry.get_spec(name).builder for name in members}:
            assert f"keras_backbones.{builder.__name__}(" in page, builder.__name__
    assert len(docs.families()) == len({registry.get_spec(n).family
                                        for n in registry.list_models()})


def test_every_public_function_and_command_is_documented(site):
    for key, (title, modules) in docs.API_PAGES.items():
        page = (site / "reference" / "api" / f"{key}.html").read_text()
        for module in modules:
            for target in docs.api_targets(module):
                assert f'id="{target}"' in page, f"{target} is not on the {title} page"
    for name in ("create_model", "list_models", "model_info"):
        assert f"keras_backbones.registry.{name}" in docs.api_targets("keras_backbones")
    cli_page = text_of(site / "reference" / "cli.html")
    for name in cli.COMMANDS:
        assert f"usage: keras-backbones {name}" in cli_page, name


def test_a_broken_link_fails_the_build(tmp_path, monkeypatch):
    pages = docs.pages
    monkeypatch.setattr(docs, "pages", lambda: {
        **pages(), "reference/broken.md": "# Broken\n\nSee [the guide](../guides/no-such.md).\n"})
    with pytest.raises(ValueError, match="no-such.md"):
        docs.build(tmp_path / "site")


def test_the_command_and_its_errors(tmp_path, monkeypatch):
    args = cli.parse(["keras-backbones", "docs", "--site_dir", str(tmp_path / "out")])
    assert args.run is cli.build_docs and args.site_dir == str(tmp_path / "out")
    monkeypatch.setattr(docs, "ROOT", tmp_path)  # an installed package: no checkout around it
    with pytest.raises(ValueError, match="no mkdocs.yml .* checkout of the repository"):
        docs.build(tmp_path / "out")


# --- in a browser -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def browser():
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not os.path.exists(path)]
    if missing:
        message = (f"{', '.join(missing)} not installed: apt-get install chromium "
                   "chromium-driver (Debian's packages)")
        if os.environ.get("KERAS_BACKBONES_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    os.environ.setdefault("SE_OFFLINE", "true")  # selenium downloads no driver
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    # The flags a closed network needs (no background requests), and a fresh profile.
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1400,1000"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "SEVERE"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def served(site):
    """The built site over HTTP on the loopback address (its search runs in a web worker,
    which a file:// page cannot start)."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def open_page(browser, url, screenshot):
    from selenium.webdriver.common.by import By

    browser.get(url)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / screenshot))
    errors = [entry["message"] for entry in browser.get_log("browser")]
    assert not errors, f"{url}: the browser logged {errors}"
    return browser.find_element(By.CSS_SELECTOR, "article")


def column(table, index):
    from selenium.webdriver.common.by import By

    return [row.find_elements(By.TAG_NAME, "td")[index].text
            for row in table.find_elements(By.CSS_SELECTOR, "tbody tr")]


def number(text):
    return float(text.replace(",", ""))


def test_index_family_page_and_sortable_table_render(browser, served):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    article = open_page(browser, f"{served}/index.html", "index.png")
    assert article.find_element(By.TAG_NAME, "h1").text == "keras_backbones"
    navigation = browser.find_element(By.CSS_SELECTOR, ".md-sidebar--primary").get_attribute(
        "textContent")
    for entry in ("The main job", "Serving with TF Serving", "Models", "ResNet",
                  "Command line", "Verification"):
        assert entry in navigation, entry

    article = open_page(browser, f"{served}/models/resnet.html", "family-resnet.png")
    assert article.find_element(By.TAG_NAME, "h1").text == "ResNet"
    variants = article.find_element(By.TAG_NAME, "table")
    assert column(variants, 0) == docs.families()["ResNet"]
    assert [number(n) for n in column(variants, 2)] == [
        docs.model_counts()[name]["params"] for name in docs.families()["ResNet"]]

    article = open_page(browser, f"{served}/models/index.html", "variants.png")
    table = article.find_element(By.TAG_NAME, "table")
    assert sorted(column(table, 0)) == sorted(registry.list_models())
    params = table.find_elements(By.CSS_SELECTOR, "thead th")[3]
    assert params.text == "params"
    params.click()
    ascending = [number(n) for n in column(table, 3)]
    assert ascending == sorted(ascending) and ascending[0] == 61_706  # LeNet-5 first
    params.click()
    descending = [number(n) for n in column(table, 3)]
    assert descending == sorted(ascending, reverse=True)
    browser.save_screenshot(str(ARTIFACTS / "variants-sorted.png"))

    # The search (lunr in a web worker) finds a variant's page.
    browser.find_element(By.CSS_SELECTOR, "label.md-search__icon, .md-search__input").click()
    box = browser.find_element(By.CSS_SELECTOR, "input.md-search__input")
    box.send_keys("ConvNeXt")
    WebDriverWait(browser, 20).until(expected_conditions.presence_of_element_located(
        (By.CSS_SELECTOR, ".md-search-result__item")))
    results = browser.find_element(By.CSS_SELECTOR, ".md-search-result").text
    assert "ConvNeXt" in results
    browser.save_screenshot(str(ARTIFACTS / "search.png"))
