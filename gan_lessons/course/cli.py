"""The `gan-lessons` command: run, check and publish the lesson notebooks (lesson 00).

    gan-lessons run [--fast] [--device D] [--only 03,05] [--out DIR] [--in-place]
    gan-lessons student [--out DIR]
    gan-lessons site [--out DIR]
    gan-lessons slides NN [--out DIR]
    gan-lessons data [--check] [--download]

Every command takes --help. Errors in what you typed (an unknown lesson, a device this machine
does not have) end with a one-line message and exit status 2, and so does a command whose tools
are not installed: run, student, site and slides need the `course` extra
(`pip install "gan-lessons[course]"`); `data` and `--help` need only the package itself, so the
notebook tools are imported inside the commands that use them, never when this module loads.
"""
import argparse
import importlib
import sys
from pathlib import Path

# What each command imports beyond the package's own dependencies (all in the `course` extra).
COURSE_EXTRA = "course"
NEEDS = {
    "run": ("nbformat", "papermill"),
    "student": ("nbformat",),
    "site": ("nbformat", "nbconvert"),
    "slides": ("nbformat", "nbconvert"),
}


class UsageError(Exception):
    """Something in the command line is wrong; the message says what to do."""


class MissingExtraError(UsageError):
    """A command's tools are not installed; the message names the extra to install."""


def _course_tools(command):
    """The `notebooks` module, once the modules `command` needs are importable.

    Raises MissingExtraError naming the extra (and the missing modules) otherwise.
    """
    missing = []
    for name in NEEDS.get(command, ()):
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise MissingExtraError(f"gan-lessons {command} needs the course tools: "
                                f'pip install "gan-lessons[{COURSE_EXTRA}]" (missing: {", ".join(missing)})')
    from . import notebooks

    return notebooks


def _lessons(nbs, args):
    only = None
    if getattr(args, "only", None):
        only = [s for s in args.only.replace(" ", ",").split(",") if s]
    try:
        return nbs.list_lessons(args.notebooks, only)
    except (ValueError, FileNotFoundError) as e:
        raise UsageError(str(e)) from None


def _check_device(device):
    if device is None:
        return None
    from ..device import get_device

    try:
        get_device(device)
    except ValueError as e:
        raise UsageError(str(e)) from None
    return device


def _fmt_seconds(s):
    return f"{s:6.1f} s" if s < 120 else f"{s / 60:6.1f} min"


def cmd_run(args):
    from tqdm.auto import tqdm

    nbs = _course_tools("run")
    if args.in_place and args.fast:
        raise UsageError("--in-place refreshes the committed outputs, which come from the default parameters; "
                         "drop --fast (or use --out DIR for a fast run).")
    if args.in_place and args.out:
        raise UsageError("Use either --in-place (overwrite the notebooks) or --out DIR (write copies), not both.")
    device = _check_device(args.device)
    paths = _lessons(nbs, args)
    if not paths:
        raise UsageError(f"No lesson notebooks (NN_name.ipynb) in {args.notebooks or nbs.default_notebook_dir()}.")
    out_dir = Path(args.out or "_run")
    params = {"FAST": True} if args.fast else None
    results = []
    bar = tqdm(paths, desc="notebooks", unit="nb", file=sys.stderr)
    for path in bar:
        bar.set_postfix_str(path.name)
        if args.in_place:
            r = nbs.execute_in_place(path, kernel=args.kernel, timeout=args.timeout, device=device)
        else:
            r = nbs.execute(path, out_dir / path.name, parameters=params, kernel=args.kernel,
                            timeout=args.timeout, device=device)
        results.append(r)
        if r["status"] != "ok":
            where = f"cell {r['cell']}" if r["cell"] is not None else "before any cell ran"
            tqdm.write(f"FAILED {path.name} ({where}): {r['error']}", file=sys.stderr)
    bar.close()

    width = max(len(Path(r["path"]).name) for r in results)
    print(f"\n{'notebook':<{width}}  status  wall time")
    for r in results:
        print(f"{Path(r['path']).name:<{width}}  {r['status']:<6}  {_fmt_seconds(r['seconds'])}")
    failed = [r for r in results if r["status"] != "ok"]
    total = sum(r["seconds"] for r in results)
    print(f"{len(results) - len(failed)} ok, {len(failed)} failed, {_fmt_seconds(total).strip()} in all.")
    for r in failed:
        where = f"cell {r['cell']}" if r["cell"] is not None else "(no cell)"
        print(f"\n{Path(r['path']).name} {where}: {r['error']}")
        if r["out_path"]:
            print(f"  the executed copy, with the full traceback: {r['out_path']}")
    if not args.in_place:
        print(f"Executed copies are in {out_dir}/")
    return 1 if failed else 0


def cmd_student(args):
    nbs = _course_tools("student")
    try:
        written = nbs.write_student_copies(args.out, args.notebooks)
    except FileNotFoundError as e:
        raise UsageError(str(e)) from None
    for p in written:
        print(p)
    print(f"{len(written)} student copies in {args.out}/ (solutions removed, outputs cleared).")
    return 0


def cmd_site(args):
    nbs = _course_tools("site")
    try:
        index = nbs.build_site(args.out, args.notebooks, None)
    except FileNotFoundError as e:
        raise UsageError(str(e)) from None
    print(f"Site written to {index.parent}/; open {index} in a browser (works offline).")
    return 0


def cmd_slides(args):
    nbs = _course_tools("slides")
    args.only = args.lesson
    paths = _lessons(nbs, args)
    prefix = args.reveal_prefix or nbs.REVEAL_CDN
    for path in paths:
        out = nbs.build_slides(path, args.out, reveal_prefix=prefix)
        print(f"Slides: {out}")
    if prefix == nbs.REVEAL_CDN:
        print("Note: the slides load reveal.js from a CDN; to present offline pass --reveal-prefix "
              "pointing at a local reveal.js 4 folder.")
    return 0


def cmd_data(args):
    from .. import data

    print(f"Data folder: {data.data_dir()}  (set {data.ENV_DATA} to use another one)")
    rows = data.check_data(download=args.download)
    marks = {"ok": "ok", "missing": "MISSING", "corrupted": "CORRUPTED"}
    for r in rows:
        print(f"  {r['dataset']:<14} {r['file']:<26} {marks[r['status']]:<9} {r['path']}")
    bad = [r for r in rows if r["status"] != "ok"]
    if not bad:
        print("All data files are present and correct.")
        return 0
    print(f"\n{len(bad)} file(s) missing or corrupted. To fix:")
    print("  - with internet: gan-lessons data --download")
    print(f"  - offline: copy the .gz files (MNIST/raw/*.gz, FashionMNIST/raw/*.gz) from a machine that has them\n"
          f"    into {data.data_dir()}, or point {data.ENV_DATA} at a folder laid out that way;\n"
          "    delete a corrupted file before copying a good one.")
    return 1 if args.check else 0


def build_parser():
    p = argparse.ArgumentParser(
        prog="gan-lessons",
        description="Run, check and publish the gan-lessons notebooks. See README.md, 'For instructors'.",
    )
    p.add_argument("--notebooks", metavar="DIR", default=None,
                   help="folder with the lesson notebooks NN_name.ipynb (default: notebooks/ of this checkout)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    r = sub.add_parser("run", help="execute lessons in order with papermill and report status and time",
                       description="Execute the lesson notebooks in order (headless, with papermill), print a "
                                   "table of notebook / status / wall time, keep going after a failure and "
                                   "exit non-zero if any failed. Executed copies go to --out (default _run/).")
    r.add_argument("--fast", action="store_true", help="inject FAST=True (quick sizes, as the tests use)")
    r.add_argument("--device", metavar="D", help="cpu, cuda, cuda:N, mps or auto (exported as GAN_LESSONS_DEVICE)")
    r.add_argument("--only", metavar="NN,NN", help="comma-separated lesson numbers, e.g. 03,05")
    r.add_argument("--out", metavar="DIR", help="where executed copies go (default _run/)")
    r.add_argument("--in-place", action="store_true",
                   help="refresh the committed notebooks' outputs from a clean run with default parameters "
                        "(a notebook is overwritten only if it ran without error)")
    r.add_argument("--kernel", default=None, help="Jupyter kernel name (default: the notebook's, python3)")
    r.add_argument("--timeout", type=int, default=1200, metavar="S", help="seconds allowed per cell (default 1200)")
    r.set_defaults(func=cmd_run)

    s = sub.add_parser("student", help="write student copies (solutions removed, outputs cleared)",
                       description="Write student copies of every lesson: cells tagged 'solution' removed, "
                                   "'exercise' cells kept, outputs and execution counts cleared.")
    s.add_argument("--out", metavar="DIR", default="student", help="output folder (default student/)")
    s.set_defaults(func=cmd_student)

    w = sub.add_parser("site", help="build an offline HTML site of the executed lessons",
                       description="Convert the committed (executed) lessons to HTML with an index page and "
                                   "previous/next navigation. Pages load nothing from the network; "
                                   "formulas become MathML "
                                   "when latex2mathml is installed.")
    w.add_argument("--out", metavar="DIR", default="_site", help="output folder (default _site/)")
    w.set_defaults(func=cmd_site)

    sl = sub.add_parser("slides", help="reveal.js slides of one lesson",
                        description="Make reveal.js slides of lesson NN, one slide per section heading.")
    sl.add_argument("lesson", metavar="NN", help="lesson number, e.g. 03")
    sl.add_argument("--out", metavar="DIR", default="_site", help="output folder (default _site/)")
    sl.add_argument("--reveal-prefix", metavar="URL", default=None,
                    help="where reveal.js is loaded from "
                         "(default: a CDN; a relative path to a local copy works offline)")
    sl.set_defaults(func=cmd_slides)

    d = sub.add_parser("data", help="where the datasets live and whether they are complete",
                       description="Show the data folder and, per file, ok / missing / corrupted, with how to "
                                   "get the files offline.")
    d.add_argument("--check", action="store_true", help="exit with status 1 if any file is missing or corrupted")
    d.add_argument("--download", action="store_true", help="download missing files first (needs internet)")
    d.set_defaults(func=cmd_data)
    return p


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except MissingExtraError as e:  # the message already names the command
        parser.exit(2, f"{e}\n")
    except UsageError as e:
        parser.exit(2, f"gan-lessons {args.command}: error: {e}\n")
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
