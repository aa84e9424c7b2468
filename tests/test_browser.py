"""Real browser tests of the scrubber (marked `browser`; skipped when Chromium or playwright is missing).

(a) JupyterLab + ipywidgets: start a private JupyterLab server (127.0.0.1, random port, token, temp
    root), open tests/notebooks/scrub_demo.ipynb in Chromium, run all cells, move the slider and
    check the picture changes (and measure how long a frame takes to appear).
(b) Exported HTML: execute the demo headless (GAN_LESSONS_HEADLESS=1), export it with nbconvert,
    open the file with networking off and check the offline JavaScript scrubber moves.

Run: pytest -m browser tests/test_browser.py -s   (set GAN_LESSONS_SCREENSHOTS=dir to keep screenshots)
"""
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
DEMO = Path(__file__).parent / "notebooks" / "scrub_demo.ipynb"
ERRORS = ("Error displaying widget", "model not found")

if not Path(CHROMIUM).exists():
    pytest.skip(f"{CHROMIUM} is missing (install it with `apt-get install chromium`)", allow_module_level=True)
try:
    from playwright.sync_api import sync_playwright
except ImportError:
    pytest.skip("playwright is missing (pip install playwright; the system Chromium is used, "
                "no `playwright install` needed)", allow_module_level=True)


@pytest.fixture
def shots(tmp_path):
    """Where screenshots go: $GAN_LESSONS_SCREENSHOTS if set (to look at them), else a temp dir."""
    d = Path(os.environ.get("GAN_LESSONS_SCREENSHOTS") or tmp_path / "shots")
    d.mkdir(parents=True, exist_ok=True)
    return d


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def jupyterlab(tmp_path):
    """A private JupyterLab serving a temp dir holding the demo notebook; yields (url, token)."""
    root = tmp_path / "root"
    root.mkdir()
    shutil.copy(DEMO, root / DEMO.name)
    port, token = _free_port(), os.urandom(16).hex()
    # Private settings and workspaces: nothing from (or to) the user's own JupyterLab; no news pop-up.
    settings = tmp_path / "lab-settings"
    (settings / "@jupyterlab" / "apputils-extension").mkdir(parents=True)
    (settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings").write_text(
        '{"fetchNews": "false"}')
    env = {k: v for k, v in os.environ.items() if k != "GAN_LESSONS_HEADLESS"}  # the real widget, please
    env.update(JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"), JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
               OMP_NUM_THREADS="1")
    log = open(tmp_path / "jupyter.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}", "--ServerApp.port_retries=0",
         "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
         "--LabApp.extension_manager=readonly", f"--LabApp.user_settings_dir={settings}",
         f"--LabApp.workspaces_dir={tmp_path / 'workspaces'}"]
        + (["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []),
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=root)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError("JupyterLab did not start:\n" + (tmp_path / "jupyter.log").read_text()[-3000:])
                time.sleep(0.5)
        yield url, token
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


# Times each frame in the page: from the slider key press to the new picture having loaded.
TIMER_JS = """
(img) => {
  window.__frames = [];
  document.addEventListener('keydown', () => { window.__t0 = performance.now(); }, true);
  img.addEventListener('load', () => {
    if (window.__t0 !== undefined) { window.__frames.push(performance.now() - window.__t0); window.__t0 = undefined; }
  });
}
"""


def test_scrubber_in_jupyterlab(browser, jupyterlab, shots):
    page = browser.new_page(viewport={"width": 1300, "height": 1000})
    try:
        _check_scrubber_in_jupyterlab(page, *jupyterlab, shots)
    except Exception:
        page.screenshot(path=str(shots / "lab_failure.png"))  # to see what went wrong
        raise
    finally:
        page.close()


def _check_scrubber_in_jupyterlab(page, url, token, shots):
    page.goto(f"{url}/lab/tree/{DEMO.name}?token={token}", timeout=60_000)
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    # JupyterLab may ask which kernel to use: take the preselected Python 3.
    select = page.locator(".jp-Dialog").get_by_role("button", name="Select", exact=True)
    try:
        select.click(timeout=5_000)
    except Exception:
        pass  # no dialog: the kernel started by itself
    page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=60_000)
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_text("Run All Cells", exact=True).click()
    img = page.locator(".gan-lessons-scrubber img").first
    img.wait_for(state="visible", timeout=90_000)
    page.wait_for_function("(el) => el.complete && el.naturalWidth > 0", arg=img.element_handle(), timeout=10_000)
    page.screenshot(path=str(shots / "lab_before.png"))

    # The live scrubber of the last cell follows the second run (a new 100-step history) to its end;
    # wait for it, so the kernel is idle while we time the first scrubber.
    live_label = page.locator(".gan-lessons-scrubber .gan-lessons-step").nth(1)
    live_label.wait_for(timeout=60_000)
    page.wait_for_function("(el) => el.textContent.startsWith('step 100 ') && el.textContent.includes('(6/6)')",
                           arg=live_label.element_handle(), timeout=60_000)
    page.locator(".gan-lessons-scrubber").nth(1).screenshot(path=str(shots / "lab_live.png"))

    label = page.locator(".gan-lessons-scrubber .gan-lessons-step").first
    before_label, before_src = label.inner_text(), img.get_attribute("src")
    before_png = img.screenshot(path=str(shots / "frame_before.png"))
    assert "step 300" in before_label, before_label  # starts on the last snapshot

    img.evaluate(TIMER_JS)
    handle = page.locator(".gan-lessons-scrubber .noUi-handle").first
    handle.focus()
    for _ in range(8):  # one frame back per key press
        page.keyboard.press("ArrowLeft")
        page.wait_for_function("() => window.__t0 === undefined", timeout=10_000)
    page.wait_for_timeout(300)
    after_label, after_src = label.inner_text(), img.get_attribute("src")
    after_png = img.screenshot(path=str(shots / "frame_after.png"))
    page.screenshot(path=str(shots / "lab_after.png"))

    assert after_label != before_label and "step 140" in after_label, after_label
    assert after_src != before_src, "the image element did not get a new picture"
    assert after_png != before_png, "the picture on screen did not change"
    text = page.inner_text("body")
    for bad in ERRORS:
        assert bad not in text, f"{bad!r} on the page"
    frames = page.evaluate("window.__frames")
    assert len(frames) == 8
    print(f"\nJupyterLab scrubber: per-frame time (key press -> new picture loaded) median "
          f"{statistics.median(frames):.0f} ms, max {max(frames):.0f} ms; screenshots in {shots}")


def _export_html(tmp_path):
    """Execute the demo headless, then build the course's HTML site of it; returns the page's path."""
    from gan_lessons.course import notebooks as nbs

    env = dict(os.environ, GAN_LESSONS_HEADLESS="1", OMP_NUM_THREADS="1",
               JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"))
    lessons = tmp_path / "lessons"
    lessons.mkdir()
    nb = lessons / "00_scrub_demo.ipynb"  # the site builder takes lesson-named notebooks
    shutil.copy(DEMO, nb)
    subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute", "--inplace",
                    str(nb)], env=env, check=True, capture_output=True, timeout=180)
    nbs.build_site(tmp_path / "site", folder=lessons)
    return tmp_path / "site" / "00_scrub_demo.html"


def test_exported_html_scrubs_offline(browser, tmp_path, shots):
    html_path = _export_html(tmp_path)
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    context.set_offline(True)
    blocked = []
    context.route("http*://**", lambda route: (blocked.append(route.request.url), route.abort()))
    page = context.new_page()
    page.goto(html_path.as_uri())
    anim = page.locator(".animation").first  # the demo's scrubber (the live cell adds a second one)
    anim_img = anim.locator("img")
    page.wait_for_function("(el) => el.src.startsWith('data:image/png') && el.complete",
                           arg=anim_img.element_handle(), timeout=20_000)
    slider = anim.locator("input.anim-slider")
    n = int(slider.get_attribute("max")) + 1
    assert n == 16  # 300 steps recorded every 20, plus step 0
    first_src = anim_img.get_attribute("src")
    first_png = anim_img.screenshot(path=str(shots / "html_first.png"))

    anim.get_by_role("button", name="Last frame").click()
    page.wait_for_function("(el) => el.value == el.max", arg=slider.element_handle(), timeout=5_000)
    last_src = anim_img.get_attribute("src")
    assert last_src != first_src
    slider.evaluate("(el) => { el.value = 5; el.dispatchEvent(new Event('input')); }")
    mid_src = anim_img.get_attribute("src")
    assert mid_src not in (first_src, last_src)
    mid_png = anim_img.screenshot(path=str(shots / "html_mid.png"))
    page.screenshot(path=str(shots / "html_page.png"), full_page=True)
    assert mid_png != first_png

    # One player per scrubber and nothing else: the still picture and its caption, which GitHub and an
    # untrusted JupyterLab notebook show, are left out of the site.
    assert page.locator(".animation").count() == 2  # the demo's scrubber and the live one
    assert "A still picture" not in page.inner_text("body")
    # Our outputs never reach for the network; whatever was blocked is nbconvert's own page template.
    assert not [u for u in blocked if "font-awesome" in u]
    context.close()
