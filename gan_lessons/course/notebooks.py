"""Working with the lesson notebooks: list, execute, normalize, student copies, HTML site.

This is the library behind the `gan-lessons` command and the notebook tests.
Nothing here is needed to *take* the course; it is for running, checking and publishing it, and
it needs the `course` extra (`pip install "gan-lessons[course]"`: nbformat, papermill, nbconvert).
"""
import contextlib
import copy
import html
import json
import os
import re
import tempfile
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
    """The `notebooks/` folder of this checkout, else `./notebooks`."""
    here = Path(__file__).resolve().parents[2] / "notebooks"  # gan_lessons/course/ -> the checkout
    return here if here.is_dir() else Path.cwd() / "notebooks"


def lesson_number(path):
    """'03' for 'notebooks/03_training_the_discriminator.ipynb'."""
    m = LESSON_RE.match(Path(path).name)
    if not m:
        raise ValueError(f"{Path(path).name!r} is not a lesson notebook name (expected 'NN_name.ipynb').")
    return m.group(1)


def list_lessons(folder=None, only=None):
    """The lesson notebooks `NN_*.ipynb` in `folder`, in lesson order.

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
    """Read a notebook as nbformat v4."""
    return nbformat.read(str(path), as_version=4)


def write(nb, path):
    """Write a notebook with a trailing newline, the way Jupyter does."""
    write_text(path, nbformat.writes(nb) + "\n")


def write_text(path, text):
    """Write `text` through a temporary file and a rename: an interrupt leaves the old file or the new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        mode = path.stat().st_mode & 0o777 if path.is_file() else 0o666 & ~_umask()
        os.chmod(tmp, mode)  # mkstemp makes 0600 files; keep the old file's mode, or the usual one
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def tags(cell):
    return list(cell.get("metadata", {}).get("tags", []))


# ---------------------------------------------------------------- where output may go

class OutputRefused(ValueError):
    """An output folder or file a command must not write to; the message says what to do instead."""


def _same_folder(a, b):
    try:
        return Path(a).resolve() == Path(b).resolve() or os.path.samefile(a, b)
    except OSError:
        return False


def prepare_out_dir(out_dir, folder=None, flag="--out"):
    """The output folder, created and checked: a writable folder that is not the lessons folder.

    Raises OutputRefused when `out_dir` is a file, is the lessons folder `folder` (only
    `gan-lessons run --in-place` rewrites the lessons), or cannot be written to.
    """
    out = Path(out_dir).expanduser()
    lessons = Path(folder) if folder is not None else default_notebook_dir()
    if out.exists() and not out.is_dir():
        raise OutputRefused(f"{out} is a file, not a folder: pass a folder for {flag} (it is created if needed).")
    if _same_folder(out, lessons):
        raise OutputRefused(f"{out} is the lessons folder: writing there would replace the lessons. Pass another "
                            f"folder for {flag} (only `gan-lessons run --in-place` rewrites the lessons).")
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as e:
        raise OutputRefused(f"Cannot write to {out} ({e.strerror or e}): pass a folder you can write to "
                            f"for {flag}.") from None
    return out


def refuse_foreign(paths, made_here, force=False, flag="--out"):
    """Raise OutputRefused if a file in `paths` exists that `made_here(path)` does not recognise as this
    command's own output (a file someone else made, or one changed since it was generated).

    Checked before anything is written, so a refusal writes nothing. force=True skips the check.
    """
    foreign = [p for p in map(Path, paths) if p.exists() and not made_here(p)]
    if not foreign or force:
        return
    names = ", ".join(p.name for p in foreign[:4]) + (f" and {len(foreign) - 4} more" if len(foreign) > 4 else "")
    raise OutputRefused(
        f"{foreign[0].parent} already has {names}, which this command did not make or which changed since "
        f"(your own work?). Nothing was written. Pass a fresh folder for {flag}, move those files away, "
        "or add --force to overwrite them."
    )


def _read_or_none(path):
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def is_executed_copy(path):
    """True if `path` is a notebook papermill wrote (an executed copy from `gan-lessons run`)."""
    try:
        nb = json.loads(_read_or_none(path) or "{}")
    except ValueError:
        return False
    meta = nb.get("metadata") if isinstance(nb, dict) else None
    return isinstance(meta, dict) and isinstance(meta.get("papermill"), dict)


def _is_student_copy(path, text):
    """True if `path` holds `text`, or a student copy of some version of its lesson, untouched since.

    A learner's copy that was run (outputs), saved by Jupyter (kernel metadata) or edited into a
    different format is not, so it is never overwritten without --force.
    """
    current = _read_or_none(path)
    if current is None:
        return False
    if current == text:
        return True
    try:
        nb = nbformat.reads(current, as_version=4)
        return nbformat.writes(student_copy(nb)) + "\n" == current
    except Exception:  # not a notebook at all
        return False


def _has_marker(*markers):
    def made_here(path):
        text = _read_or_none(path) or ""
        return any(m in text for m in markers)
    return made_here


# ---------------------------------------------------------------- normalizing and student copies

def normalize(nb):
    """Return a copy of `nb` that diffs cleanly.

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
    """The learner's copy of a lesson: solutions removed, outputs cleared.

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
    """{file name: text} of the student copies the generator produces now."""
    return {p.name: nbformat.writes(student_copy(read(p))) + "\n" for p in list_lessons(folder)}


def write_student_copies(out_dir="student", folder=None, force=False):
    """Write student copies of every lesson to `out_dir`. Returns the written paths.

    Only the copies' own files are written, and only over earlier untouched copies: a file there
    that this did not make (or that a learner changed) raises OutputRefused before anything is
    written, unless force=True. Nothing else in `out_dir` is touched (see `leftover_copies`).
    """
    files = student_files(folder)
    out_dir = prepare_out_dir(out_dir, folder)
    targets = {out_dir / name: text for name, text in files.items()}
    refuse_foreign(targets, lambda p: _is_student_copy(p, targets[p]), force)
    for path, text in targets.items():
        if _read_or_none(path) != text:
            write_text(path, text)
    return list(targets)


def leftover_copies(out_dir, names):
    """Lesson-named notebooks in `out_dir` other than `names` (e.g. copies of a renamed lesson), left alone."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        return []
    return sorted(p for p in out_dir.glob("*.ipynb") if LESSON_RE.match(p.name) and p.name not in set(names))


def prepare_run_out(out_dir, paths, folder=None, force=False):
    """The folder for `gan-lessons run`'s executed copies of `paths`, checked.

    Refuses the lessons folder, a file, an unwritable folder, and (unless force) a folder that
    already has a notebook of the same name that is not an executed copy.
    """
    out_dir = prepare_out_dir(out_dir, folder)
    refuse_foreign([out_dir / Path(p).name for p in paths], is_executed_copy, force)
    return out_dir


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
    """Run a notebook top to bottom with papermill, headless.

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
    """Refresh a committed notebook's outputs from a clean run with default parameters.

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
    """What is wrong with a committed lesson notebook, as a list of sentences.

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

_GENERATOR = '<meta name="generator" content="gan-lessons">'  # marks the pages this module wrote
_NAV_CSS = _GENERATOR + """
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
    returned unchanged and formulas show as their LaTeX source.
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


def site_outputs(nb):
    """A headless scrubber's outputs as a web page should show them: the offline player in place of
    the still picture and its caption (see `widgets.PLAYER_MIME`). Changes `nb` in place; returns it."""
    from ..widgets import OUTPUT_ROLE, PLAYER_MIME

    for cell in nb.cells:
        outputs = cell.get("outputs", [])
        if not any(PLAYER_MIME in o.get("data", {}) for o in outputs):
            continue  # a still without its player (none is written so) stays
        kept = [o for o in outputs if o.get("metadata", {}).get(OUTPUT_ROLE) != "still"]
        for o in kept:
            if PLAYER_MIME in o.get("data", {}):
                o["data"] = {"text/html": o["data"][PLAYER_MIME]}
        cell["outputs"] = kept
    return nb


def build_site(out_dir="_site", folder=None, only=None, force=False):
    """HTML pages of the executed lessons plus an index page, readable offline.

    Uses the committed (executed) notebooks. No page loads anything from the network: the
    nbconvert template used here drops require.js, MathJax and the widget manager CDNs. Formulas
    become MathML (drawn by the browser itself) when latex2mathml is installed, else stay LaTeX
    source; a scrubber saved headless shows as its offline JavaScript player, without the still
    picture that viewers without JavaScript get (`site_outputs`).
    An index.html or page already in `out_dir` that this did not write raises OutputRefused
    (before anything is written) unless force=True. Returns the path of index.html.
    """
    exporter = _offline_html_exporter()
    paths = list_lessons(folder, only)
    if not paths:
        raise FileNotFoundError(f"No lesson notebooks (NN_name.ipynb) in {folder or default_notebook_dir()}.")
    out_dir = prepare_out_dir(out_dir, folder)
    targets = [out_dir / "index.html"] + [out_dir / p.with_suffix(".html").name for p in paths]
    refuse_foreign(targets, _has_marker(_GENERATOR, ".gl-nav {"), force)
    nbs = [(p, read(p)) for p in paths]
    pages = [(p.with_suffix(".html").name, _title(nb, p.stem)) for p, nb in nbs]
    for (p, nb), (page, _) in zip(nbs, pages):
        nb = site_outputs(normalize(nb))
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                cell.source = math_to_mathml(cell.source)
        body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": p.stem}})
        body = body.replace("</head>", _NAV_CSS + "</head>", 1)
        body = re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + _nav(pages, page), body, count=1)
        write_text(out_dir / page, body)
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
    write_text(out_dir / "index.html", index)
    return out_dir / "index.html"


REVEAL_CDN = "https://unpkg.com/reveal.js@4.0.2"


def build_slides(path, out_dir="_site", reveal_prefix=REVEAL_CDN, force=False):
    """reveal.js slides of one lesson, one slide per `##` section.

    reveal.js itself is loaded from `reveal_prefix` (a CDN by default; point it at a local copy
    of reveal.js 4 to present offline). A file of that name in `out_dir` that is not slides
    raises OutputRefused unless force=True. Returns the path of the .slides.html file.
    """
    from nbconvert import SlidesExporter

    out_dir = prepare_out_dir(out_dir, Path(path).parent)
    out = out_dir / (Path(path).stem + ".slides.html")
    refuse_foreign([out], _has_marker(_GENERATOR, "Reveal.initialize"), force)
    nb = site_outputs(normalize(read(path)))
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
    write_text(out, re.sub(r"(<head[^>]*>)", lambda m: m.group(1) + _GENERATOR, body, count=1))
    return out


def external_urls(html_text):
    """URLs that a page would fetch from the network: script src and link href."""
    found = re.findall(r"<script[^>]*\bsrc=[\"'](https?:)?//([^\"']+)", html_text, re.I)
    found += re.findall(r"<link[^>]*\bhref=[\"'](https?:)?//([^\"']+)", html_text, re.I)
    found += re.findall(r"@import\s+(?:url\()?[\"']?(https?:)?//([^\"')]+)", html_text, re.I)
    return [(a or "") + "//" + b for a, b in found]
