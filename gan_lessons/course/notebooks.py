"""Working with the lesson notebooks: list, execute, normalize, student copies, HTML site.

This is the library behind the `gan-lessons` command (lesson 00 shows it) and the notebook tests.
Nothing here is needed to *take* the course; it is for running, checking and publishing it, and
it needs the `course` extra (`pip install "gan-lessons[course]"`: nbformat, papermill, nbconvert).
"""
import contextlib
import copy
import html
import os
import re
import time
from pathlib import Path

import nbformat

ENV_HEADLESS = "GAN_LESSONS_HEADLESS"
LESSON_RE = re.compile(r"^(\d\d)_[A-Za-z0-9_\-]+\.ipynb$")
SOLUTION_TAG = "solution"
EXERCISE_TAG = "exercise"

# Metadata that changes from run to run (or machine to machine) and only makes diffs noisy.
_VOLATILE_NB_KEYS = ("papermill", "widgets", "execution")
_VOLATILE_CELL_KEYS = ("papermill", "execution", "collapsed", "scrolled", "ExecuteTime")


def default_notebook_dir():
    """The `notebooks/` folder of this checkout (lesson 00), else `./notebooks`."""
    here = Path(__file__).resolve().parents[2] / "notebooks"  # gan_lessons/course/ -> the checkout
    return here if here.is_dir() else Path.cwd() / "notebooks"


def lesson_number(path):
    """'03' for 'notebooks/03_training_the_discriminator.ipynb' (lesson 00)."""
    m = LESSON_RE.match(Path(path).name)
    if not m:
        raise ValueError(f"{Path(path).name!r} is not a lesson notebook name (expected 'NN_name.ipynb').")
    return m.group(1)


def list_lessons(folder=None, only=None):
    """The lesson notebooks `NN_*.ipynb` in `folder`, in lesson order (lesson 00).

    only: lesson numbers to keep, e.g. ["03", "5"] (a number may be given without its leading 0).
    An unknown number raises ValueError listing the lessons that exist.
    """
    folder = Path(folder) if folder is not None else default_notebook_dir()
    if not folder.is_dir():
        raise FileNotFoundError(f"No notebook folder at {folder}. Run from the course folder or pass --notebooks DIR.")
    paths = sorted(p for p in folder.iterdir() if LESSON_RE.match(p.name))
    if only is None:
        return paths
    by_number = {lesson_number(p): p for p in paths}
    wanted = []
    for n in only:
        n = str(n).strip()
        key = n.zfill(2) if n.isdigit() else n
        if key not in by_number:
            have = ", ".join(by_number) or "none"
            raise ValueError(f"Unknown lesson {n!r}. Lessons in {folder}: {have}.")
        if by_number[key] not in wanted:
            wanted.append(by_number[key])
    return sorted(wanted)


def read(path):
    """Read a notebook as nbformat v4 (lesson 00)."""
    return nbformat.read(str(path), as_version=4)


def write(nb, path):
    """Write a notebook with a trailing newline, the way Jupyter does (lesson 00)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")


def tags(cell):
    return list(cell.get("metadata", {}).get("tags", []))


# ---------------------------------------------------------------- normalizing and student copies

def normalize(nb):
    """Return a copy of `nb` that diffs cleanly (lesson 00).

    Drops papermill's per-cell timing metadata, saved widget state, the Python patch version and
    other kernel-specific noise. Outputs and execution counts are kept.
    """
    nb = copy.deepcopy(nb)
    for key in _VOLATILE_NB_KEYS:
        nb.metadata.pop(key, None)
    info = nb.metadata.get("language_info")
    if info is not None:
        info.pop("version", None)  # 3.11.7 vs 3.12.1 is not a change to the lesson
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    for cell in nb.cells:
        for key in _VOLATILE_CELL_KEYS:
            cell.metadata.pop(key, None)
        if cell.cell_type == "code":
            for out in cell.get("outputs", []):
                # widget views reference state we just dropped; the static fallback is kept
                data = out.get("data")
                if data is not None:
                    data.pop("application/vnd.jupyter.widget-view+json", None)
                    if not data and out.get("output_type") == "display_data":
                        out["data"] = {"text/plain": ""}
    return nb


def student_copy(nb):
    """The learner's copy of a lesson (lesson 00): solutions removed, outputs cleared.

    Cells tagged `solution` are dropped; `exercise` cells stay; outputs, execution counts and
    volatile metadata are cleared.
    """
    nb = normalize(nb)
    nb.cells = [c for c in nb.cells if SOLUTION_TAG not in tags(c)]
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return nb


def student_files(folder=None):
    """{file name: text} of the student copies the generator produces now (lesson 00)."""
    return {p.name: nbformat.writes(student_copy(read(p))) + "\n" for p in list_lessons(folder)}


def write_student_copies(out_dir="student", folder=None):
    """Write student copies of every lesson to `out_dir`, removing stale ones (lesson 00).

    Returns the list of written paths.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = student_files(folder)
    for old in out_dir.glob("*.ipynb"):
        if old.name not in files:
            old.unlink()
    written = []
    for name, text in files.items():
        path = out_dir / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


# ---------------------------------------------------------------- executing

@contextlib.contextmanager
def _environ(**values):
    """Set environment variables for the duration (kernels inherit them)."""
    old = {k: os.environ.get(k) for k in values}
    os.environ.update({k: str(v) for k, v in values.items() if v is not None})
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def execute(path, out_path, parameters=None, kernel=None, timeout=600, device=None, cwd=None):
    """Run a notebook top to bottom with papermill, headless (lesson 00).

    parameters: dict injected after the `parameters` cell (e.g. {"FAST": True}); None injects nothing.
    device: exported as GAN_LESSONS_DEVICE to the kernel, so no parameter cell is needed for it.
    timeout: seconds allowed per cell. The kernel starts in the notebook's folder unless `cwd`.
    Returns a dict: path, out_path, status ("ok" or "failed"), seconds, and for failures
    cell (index of the failing cell in the original notebook), error (one line) and traceback.
    """
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    path, out_path = Path(path), Path(out_path)
    if not path.is_file():
        raise FileNotFoundError(f"No notebook at {path}.")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    result = {"path": str(path), "out_path": str(out_path), "status": "ok", "seconds": 0.0,
              "cell": None, "error": None, "traceback": None}
    start = time.perf_counter()
    env = {ENV_HEADLESS: "1", "GAN_LESSONS_DEVICE": device}
    try:
        with _environ(**env):
            pm.execute_notebook(
                str(path), str(out_path), parameters=parameters or {}, kernel_name=kernel,
                execution_timeout=timeout, progress_bar=False, log_output=False,
                cwd=str(cwd or path.parent),
            )
    except PapermillExecutionError as e:
        cell = e.cell_index
        if parameters:  # papermill inserted a cell; give the index in the original notebook
            executed = read(out_path).cells[:cell]
            cell -= sum("injected-parameters" in tags(c) for c in executed)
        result.update(status="failed", cell=cell, error=f"{e.ename}: {e.evalue}",
                      traceback="\n".join(e.traceback))
    except Exception as e:  # kernel died, timeout, bad notebook: still a failure to report
        result.update(status="failed", error=f"{type(e).__name__}: {e}")
    result["seconds"] = time.perf_counter() - start
    return result


def execute_in_place(path, kernel=None, timeout=600, device=None, failed_dir="_run"):
    """Refresh a committed notebook's outputs from a clean run with default parameters (lesson 00).

    The notebook is run into a scratch copy; only if every cell succeeds is the original replaced
    by the normalized result. A failed run leaves the original untouched and keeps the executed
    copy (with the traceback) in `failed_dir`. Returns the same dict as `execute`.
    """
    import tempfile

    path = Path(path)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / path.name
        result = execute(path, out, parameters=None, kernel=kernel, timeout=timeout, device=device)
        if result["status"] == "ok":
            write(normalize(read(out)), path)
            result["out_path"] = str(path)
        elif out.exists():
            kept = Path(failed_dir) / path.name
            kept.parent.mkdir(parents=True, exist_ok=True)
            kept.write_bytes(out.read_bytes())
            result["out_path"] = str(kept)
        else:
            result["out_path"] = None
    return result


# ---------------------------------------------------------------- committed-notebook checks

def problems(path, max_bytes=2_000_000):
    """What is wrong with a committed lesson notebook, as a list of sentences (lesson 00).

    Checks: run top to bottom (execution counts 1, 2, 3, ... without gaps), no error outputs,
    a `parameters`-tagged cell defining FAST, and a size under `max_bytes`.
    """
    path = Path(path)
    found = []
    size = path.stat().st_size
    if size >= max_bytes:
        found.append(f"{path.name} is {size / 1e6:.2f} MB; "
                     f"keep it under {max_bytes / 1e6:.0f} MB (fewer/smaller figures).")
    nb = read(path)
    code = [c for c in nb.cells if c.cell_type == "code"]
    counts = [c.execution_count for c in code]
    if counts != list(range(1, len(code) + 1)):
        number = path.name[:2] if LESSON_RE.match(path.name) else "NN"
        shown = counts if len(counts) <= 12 else counts[:12] + ["..."]
        found.append(f"{path.name} was not run top to bottom in a fresh kernel (execution counts {shown}); "
                     f"refresh it with `gan-lessons run --in-place --only {number}`.")
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                found.append(f"{path.name} cell {i} has an error output ({out.get('ename')}).")
    params = [c for c in code if "parameters" in tags(c)]
    if not params:
        found.append(f"{path.name} has no code cell tagged 'parameters'.")
    elif not any(re.search(r"^FAST\s*=", c.source, re.M) for c in params):
        found.append(f"{path.name}: the 'parameters' cell does not define FAST.")
    return found


# ---------------------------------------------------------------- HTML site and slides

_TEMPLATE_DIR = Path(__file__).resolve().parents[1] / "assets" / "templates"  # gan_lessons/assets/

_NAV_CSS = """
<style>
.gl-nav {font-family: system-ui, sans-serif; display: flex; gap: 1.5em; padding: .6em 1em;
         background: #f3f4f6; border-bottom: 1px solid #d1d5db; position: sticky; top: 0; z-index: 10;}
.gl-nav a {text-decoration: none; color: #1d4ed8;}
.gl-nav .gl-here {font-weight: 600; color: #111827;}
math {font-size: 1.1em;}
math[display="block"] {font-size: 1.3em; margin: .6em 0;}
</style>
"""


def _offline_html_exporter(template="offline"):
    """An nbconvert HTMLExporter whose pages load nothing from the network."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name=template, extra_template_basedirs=[str(_TEMPLATE_DIR)])
    exporter.exclude_input_prompt = False
    return exporter


_CODE_RE = re.compile(r"(```.*?```|~~~.*?~~~|`[^`\n]*`)", re.S)
_DISPLAY_RE = re.compile(r"\$\$(.+?)\$\$", re.S)
_INLINE_RE = re.compile(r"(?<![\\$])\$(?![\s$])([^$\n]+?)(?<![\s\\])\$(?!\d)")


def math_to_mathml(markdown):
    """Replace $...$ and $$...$$ in markdown with MathML, which browsers draw without MathJax.

    Code spans and fenced code are left alone, and so is any formula the converter cannot read.
    Needs the optional package latex2mathml (`pip install latex2mathml`); without it the text is
    returned unchanged and formulas show as their LaTeX source (lesson 00).
    """
    try:
        from latex2mathml.converter import convert
    except ImportError:
        return markdown

    def display(m):
        try:
            return "\n\n" + convert(m.group(1).strip(), display="block") + "\n\n"
        except Exception:
            return m.group(0)

    def inline(m):
        try:
            return convert(m.group(1))
        except Exception:
            return m.group(0)

    parts = _CODE_RE.split(markdown)
    for i in range(0, len(parts), 2):  # even parts are outside code
        parts[i] = _INLINE_RE.sub(inline, _DISPLAY_RE.sub(display, parts[i]))
    return "".join(parts)


def _title(nb, fallback):
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            m = re.search(r"^#\s+(.+)$", cell.source, re.M)
            if m:
                return m.group(1).strip()
    return fallback


def _nav(pages, here):
    links = ['<a href="index.html">All lessons</a>']
    i = [p[0] for p in pages].index(here)
    if i > 0:
        links.append(f'<a href="{pages[i - 1][0]}">&larr; {html.escape(pages[i - 1][1])}</a>')
    links.append(f'<span class="gl-here">{html.escape(pages[i][1])}</span>')
    if i + 1 < len(pages):
        links.append(f'<a href="{pages[i + 1][0]}">{html.escape(pages[i + 1][1])} &rarr;</a>')
    return '<nav class="gl-nav">' + " ".join(links) + "</nav>"


def build_site(out_dir="_site", folder=None, only=None):
    """HTML pages of the executed lessons plus an index page, readable offline (lesson 00).

    Uses the committed (executed) notebooks. No page loads anything from the network: the
    nbconvert template used here drops require.js, MathJax and the widget manager CDNs. Formulas
    become MathML (drawn by the browser itself) when latex2mathml is installed, else stay LaTeX
    source; widgets were saved as static images and inline JavaScript animations.
    Returns the path of index.html.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    exporter = _offline_html_exporter()
    paths = list_lessons(folder, only)
    if not paths:
        raise FileNotFoundError(f"No lesson notebooks (NN_name.ipynb) in {folder or default_notebook_dir()}.")
    nbs = [(p, read(p)) for p in paths]
    pages = [(p.with_suffix(".html").name, _title(nb, p.stem)) for p, nb in nbs]
    for (p, nb), (page, _) in zip(nbs, pages):
        nb = normalize(nb)
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                cell.source = math_to_mathml(cell.source)
        body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": p.stem}})
        body = body.replace("</head>", _NAV_CSS + "</head>", 1)
        body = re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + _nav(pages, page), body, count=1)
        (out_dir / page).write_text(body, encoding="utf-8")
    items = "\n".join(f'<li><a href="{page}">{html.escape(title)}</a></li>' for page, title in pages)
    index = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>GAN lessons</title>{_NAV_CSS}
<style>body {{font-family: system-ui, sans-serif; max-width: 46em; margin: 2em auto; line-height: 1.5;}}</style>
</head><body>
<h1>GAN lessons</h1>
<p>Generative Adversarial Networks with PyTorch, one notebook per lesson. These pages show a clean
run of each lesson; open the notebooks in Jupyter to run and change them.</p>
<ol>
{items}
</ol>
</body></html>
"""
    (out_dir / "index.html").write_text(index, encoding="utf-8")
    return out_dir / "index.html"


REVEAL_CDN = "https://unpkg.com/reveal.js@4.0.2"


def build_slides(path, out_dir="_site", reveal_prefix=REVEAL_CDN):
    """reveal.js slides of one lesson, one slide per `##` section (lesson 00).

    reveal.js itself is loaded from `reveal_prefix` (a CDN by default; point it at a local copy
    of reveal.js 4 to present offline). Returns the path of the .slides.html file.
    """
    from nbconvert import SlidesExporter

    nb = normalize(read(path))
    for cell in nb.cells:
        slide = "-"
        if cell.cell_type == "markdown" and re.match(r"^#{1,2}\s", cell.source.lstrip()):
            slide = "slide"
        elif cell.cell_type == "markdown" and re.match(r"^###\s", cell.source.lstrip()):
            slide = "subslide"
        cell.metadata["slideshow"] = {"slide_type": slide}
    exporter = SlidesExporter(reveal_url_prefix=reveal_prefix)
    exporter.exclude_input_prompt = True
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": Path(path).stem}})
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / (Path(path).stem + ".slides.html")
    out.write_text(body, encoding="utf-8")
    return out


def external_urls(html_text):
    """URLs that a page would fetch from the network: script src and link href (lesson 00)."""
    found = re.findall(r"<script[^>]*\bsrc=[\"'](https?:)?//([^\"']+)", html_text, re.I)
    found += re.findall(r"<link[^>]*\bhref=[\"'](https?:)?//([^\"']+)", html_text, re.I)
    found += re.findall(r"@import\s+(?:url\()?[\"']?(https?:)?//([^\"')]+)", html_text, re.I)
    return [(a or "") + "//" + b for a, b in found]
