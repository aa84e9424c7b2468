"""The HTML site opens from disk with no network: nothing is fetched from a CDN."""
import os
import re
import shutil
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from gan_lessons.course import notebooks as nbs

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The site of one small executed lesson with a figure, a formula and a JavaScript animation."""
    root = tmp_path_factory.mktemp("site")
    src, done = root / "src", root / "executed"
    src.mkdir()
    nb = new_notebook(cells=[
        new_markdown_cell("# Lesson 01: Tiny\n\nThe cost is $-\\log D(x)$.\n\n## 1. A figure"),
        new_code_cell("FAST = False", metadata={"tags": ["parameters"]}),
        new_code_cell("%matplotlib inline\nimport matplotlib.pyplot as plt\n"
                      "fig, ax = plt.subplots(figsize=(2, 2), dpi=50)\nax.plot([0, 1], [0, 1])\nplt.show()"),
        new_code_cell("from IPython.display import HTML\n"
                      "HTML('<div id=\"anim\">0</div>"
                      "<script>document.getElementById(\"anim\").textContent = \"ran\";</script>')"),
    ])
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nbformat.write(nb, str(src / "01_tiny.ipynb"))
    result = nbs.execute(src / "01_tiny.ipynb", done / "01_tiny.ipynb")
    assert result["status"] == "ok", result
    index = nbs.build_site(root / "_site", done)
    return index.parent


def test_site_has_no_external_scripts_or_styles(site):
    for page in ["index.html", "01_tiny.html"]:
        text = (site / page).read_text()
        assert nbs.external_urls(text) == [], page
        assert "cdn" not in text.lower().replace("cdnjs.cloudflare.com/ajax/libs/mathjax", "")
    page = (site / "01_tiny.html").read_text()
    assert re.search(r'<img[^>]*src="data:image/png;base64,', page)  # the figure is inline
    assert "Lesson 01: Tiny" in (site / "index.html").read_text()
    try:
        import latex2mathml  # noqa: F401
    except ImportError:
        assert "$-\\log D(x)$" in page  # without the converter the formula stays LaTeX source
    else:
        assert "<math" in page and "$-\\log" not in page  # drawn by the browser, no MathJax


def test_math_to_mathml_leaves_code_and_prices_alone():
    pytest.importorskip("latex2mathml")
    text = "cost $x^2$, code `$y$`, 5$ and $5.\n\n```\n$$z$$\n```\n\n$$a = b$$"
    out = nbs.math_to_mathml(text)
    assert out.count("<math") == 2 and "`$y$`" in out and "5$ and $5" in out and "$$z$$" in out


def test_external_urls_detects_cdn_links():
    assert nbs.external_urls('<script src="https://cdn.example/x.js"></script>') == ["https://cdn.example/x.js"]
    assert nbs.external_urls("<link rel='stylesheet' href='//fonts.example/a.css'>") == ["//fonts.example/a.css"]
    assert nbs.external_urls('<script src="local.js"></script><a href="https://x.org">x</a>') == []


@pytest.mark.browser
def test_site_renders_offline_in_chromium(site):
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        pytest.skip(f"Chromium not found at {CHROMIUM} (CI installs it with apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    external = []
    with sync_api.sync_playwright() as p:
        try:
            chromium = CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium")
            browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        except Exception as e:  # a Chromium that does not match this playwright version
            pytest.skip(f"Chromium could not be started by playwright: {e}")
        context = browser.new_context(offline=True)

        def refuse(route):
            if not route.request.url.startswith(("file://", "data:")):
                external.append(route.request.url)
                return route.abort()
            return route.continue_()

        context.route("**/*", refuse)
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(Path(site / "index.html").as_uri())
        page.click("text=Lesson 01: Tiny")
        page.wait_for_load_state("load")
        assert page.title() == "01_tiny"
        assert page.locator("h1", has_text="Lesson 01: Tiny").is_visible()
        assert page.locator("nav.gl-nav a", has_text="All lessons").is_visible()
        widths = page.eval_on_selector_all("img", "imgs => imgs.map(i => i.naturalWidth)")
        assert widths and all(w > 0 for w in widths)   # inline images decoded
        assert page.locator("#anim").text_content() == "ran"  # inline JavaScript runs offline
        browser.close()
    assert external == []
    assert errors == []


def test_the_site_shows_a_headless_scrubber_as_one_player(tmp_path):
    """A committed scrubber is a still picture, its caption and a player under our own MIME type;
    the site shows the player alone, as HTML (JupyterLab and GitHub show the still)."""
    from gan_lessons import widgets
    from gan_lessons.course import notebooks as nbs

    cell = nbformat.v4.new_code_cell("gl.widgets.scrub(history)")
    cell.outputs = [
        nbformat.v4.new_output("display_data", {"image/png": "iVBORw0KGgo=", "text/plain": "<last frame>"},
                               metadata={"gan_lessons": "still"}),
        nbformat.v4.new_output("display_data", {"text/markdown": "*caption*", "text/plain": "caption"},
                               metadata={"gan_lessons": "still"}),
        nbformat.v4.new_output("display_data", {widgets.PLAYER_MIME: "<div class='animation'>x</div>",
                                                "text/plain": ""}, metadata={"gan_lessons": "player"}),
    ]
    other = nbformat.v4.new_code_cell("plt.show()")
    other.outputs = [nbformat.v4.new_output("display_data", {"image/png": "iVBORw0KGgo="})]
    nb = nbs.site_outputs(nbformat.v4.new_notebook(cells=[cell, other]))
    assert [o["data"] for o in nb.cells[0].outputs] == [{"text/html": "<div class='animation'>x</div>"}]
    assert nb.cells[1].outputs[0]["data"] == {"image/png": "iVBORw0KGgo="}, "other figures stay"
