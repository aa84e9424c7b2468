"""The `gan-lessons` command: run, check and publish the lesson notebooks.

    gan-lessons run [--fast] [--device D] [--only 03,05] [--out DIR] [--in-place] [--force]
    gan-lessons student [--out DIR] [--force]
    gan-lessons site [--out DIR] [--force]
    gan-lessons slides NN [--out DIR] [--force]
    gan-lessons data [--check] [--download]

Every command takes --help. Errors in what you typed (an unknown lesson, a device this machine
does not have, an --out that is the lessons folder or holds files the command did not make: pass
--force to overwrite those) end with a one-line message and exit status 2 before anything is
written, and so does a command whose tools are not installed: run, student, site and slides need the `course` extra
(`pip install "gan-lessons[course]"`); `data` and `--help` need only the package itself, so the
notebook tools are imported inside the commands that use them, never when this module loads.
"""
import argparse
import importlib
import os
import re
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


FORCE_HELP = ("overwrite files in --out that this command did not make (or that were changed since); "
              "without it such files stop the command before it writes anything")


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


def _lessons(nbs, args, flag="--only", example="--only 03,05"):
    only = None
    if getattr(args, "only", None) is not None:
        only = [s for s in re.split(r"[,\s]+", args.only) if s]
        if not only:
            raise UsageError(f"{flag} got no lesson number; give one or more, e.g. {example}.")
    try:
        return nbs.list_lessons(args.notebooks, only)
    except (ValueError, FileNotFoundError) as e:
        raise UsageError(str(e)) from None


def _guard(action):
    """Run `action()`, turning a refused output folder or a missing notebook folder into a UsageError."""
    try:
        return action()
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


def _seconds(text):
    """argparse type for --timeout: a whole number of seconds, at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of seconds (e.g. 1200)") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 second, got {value} (it is the time allowed per "
                                         "cell; the default is 1200)")
    return value


def _fmt_seconds(s):
    return f"{s:6.1f} s" if s < 120 else f"{s / 60:6.1f} min"


def _run_one(nbs, path, args, device, out_dir):
    if args.in_place:
        return nbs.execute_in_place(path, kernel=args.kernel, timeout=args.timeout, device=device)
    params = {"FAST": True} if args.fast else None
    return nbs.execute(path, out_dir / path.name, parameters=params, kernel=args.kernel,
                       timeout=args.timeout, device=device)


def _run_all(nbs, paths, args, device, out_dir):
    """Execute `paths` in order. Returns (results, the path a Ctrl-C stopped at or None)."""
    from tqdm.auto import tqdm

    results, current = [], None
    bar = tqdm(paths, desc="notebooks", unit="nb", file=sys.stderr)
    try:
        for current in bar:
            bar.set_postfix_str(current.name)
            r = _run_one(nbs, current, args, device, out_dir)
            if (r["error"] or "").startswith("KeyboardInterrupt"):  # Ctrl-C reached the kernel first
                return results, current
            results.append(r)
            if r["status"] != "ok":
                where = f"cell {r['cell']}" if r["cell"] is not None else "before any cell ran"
                tqdm.write(f"FAILED {current.name} ({where}): {r['error']}", file=sys.stderr)
    except KeyboardInterrupt:
        return results, current
    finally:
        bar.close()
    return results, None


def _print_results(results, out_dir):
    if results:
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
    if out_dir is not None and results:
        print(f"Executed copies are in {out_dir}/")
    return failed


def _print_interrupted(stopped, paths, out_dir):
    rest = [p.name for p in paths[paths.index(stopped) + 1:]]
    print(f"\nInterrupted (Ctrl-C) while running {stopped.name}; the lessons in {stopped.parent} are unchanged.")
    if out_dir is not None and (out_dir / stopped.name).exists():
        print(f"  {out_dir / stopped.name} is a partial executed copy (it stops where the run was interrupted).")
    if rest:
        print(f"  Not run: {', '.join(rest)}.")


def cmd_run(args):
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
    out_dir = None
    if not args.in_place:
        out_dir = _guard(lambda: nbs.prepare_run_out(args.out or "_run", paths, args.notebooks, args.force))
    results, stopped = _run_all(nbs, paths, args, device, out_dir)
    failed = _print_results(results, out_dir)
    if stopped is not None:
        _print_interrupted(stopped, paths, out_dir)
        return 130
    return 1 if failed else 0


def cmd_student(args):
    nbs = _course_tools("student")
    written = _guard(lambda: nbs.write_student_copies(args.out, args.notebooks, force=args.force))
    for p in written:
        print(p)
    print(f"{len(written)} student copies in {args.out}/ (solutions removed, outputs cleared).")
    left = nbs.leftover_copies(args.out, [p.name for p in written])
    if left:
        print(f"Left as they were: {', '.join(p.name for p in left)} (not a current lesson; delete by hand "
              "if it is an old student copy).")
    return 0


def cmd_site(args):
    nbs = _course_tools("site")
    index = _guard(lambda: nbs.build_site(args.out, args.notebooks, None, force=args.force))
    print(f"Site written to {index.parent}/; open {index} in a browser (works offline).")
    return 0


def cmd_slides(args):
    nbs = _course_tools("slides")
    args.only = args.lesson
    paths = _lessons(nbs, args, "slides", "gan-lessons slides 03")
    prefix = args.reveal_prefix or nbs.REVEAL_CDN
    for path in paths:
        out = _guard(lambda: nbs.build_slides(path, args.out, reveal_prefix=prefix, force=args.force))
        print(f"Slides: {out}")
    if prefix == nbs.REVEAL_CDN:
        print("Note: the slides load reveal.js from a CDN; to present offline pass --reveal-prefix "
              "pointing at a local reveal.js 4 folder.")
    return 0


def _download_all(data):
    """`data --download`: fetch missing files, replace damaged ones. Returns the sentences saying why not."""
    problems = []
    for name in data.DATASETS:
        moved, why = data.repair(name)
        for old, new in moved:
            print(f"  {old.name} was damaged: kept as {new.name} and downloaded again.")
        if why:
            problems.append((name, why))
    for name, (_, reason) in problems:
        print(f"  {name}: nothing downloaded: {reason}.")
    return problems


def _print_data_fix(data, downloads_off):
    root = data.data_dir()
    if downloads_off:
        print(f"  - downloads are switched off ({data.ENV_OFFLINE}={os.environ.get(data.ENV_OFFLINE)}): unset it, "
              "connect to the internet and run: gan-lessons data --download")
    else:
        print("  - with internet: gan-lessons data --download   (a corrupted file is kept as NAME.corrupt "
              "and downloaded again)")
    print(f"  - offline: copy the official .gz files from a machine that has them into {root}, laid out as\n"
          f"      {root}/MNIST/raw/{{train,t10k}}-{{images-idx3,labels-idx1}}-ubyte.gz\n"
          f"      {root}/FashionMNIST/raw/{{train,t10k}}-{{images-idx3,labels-idx1}}-ubyte.gz\n"
          f"    (copy a good file over a corrupted one), or point {data.ENV_DATA} at a folder laid out that way.")


def cmd_data(args):
    from .. import data

    print(f"Data folder: {data.data_dir()}  (set {data.ENV_DATA} to use another one)")
    problems = _download_all(data) if args.download else []
    rows = data.check_data()
    marks = {"ok": "ok", "missing": "MISSING", "corrupted": "CORRUPTED"}
    for r in rows:
        print(f"  {r['dataset']:<14} {r['file']:<26} {marks[r['status']]:<9} {r['path']}")
    bad = [r for r in rows if r["status"] != "ok"]
    if not bad:
        print("All data files are present and correct.")
        return 0
    print(f"\n{len(bad)} file(s) missing or corrupted. To fix:")
    _print_data_fix(data, data.downloads_switched_off())
    if problems:
        print("gan-lessons data --download could not fetch them (see above).")
    return 1 if (args.check or args.download) else 0


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
    r.add_argument("--timeout", type=_seconds, default=1200, metavar="S",
                   help="seconds allowed per cell, at least 1 (default 1200)")
    r.add_argument("--force", action="store_true", help=FORCE_HELP)
    r.set_defaults(func=cmd_run)

    s = sub.add_parser("student", help="write student copies (solutions removed, outputs cleared)",
                       description="Write student copies of every lesson: cells tagged 'solution' removed, "
                                   "'exercise' cells kept, outputs and execution counts cleared.")
    s.add_argument("--out", metavar="DIR", default="student", help="output folder (default student/)")
    s.add_argument("--force", action="store_true", help=FORCE_HELP)
    s.set_defaults(func=cmd_student)

    w = sub.add_parser("site", help="build an offline HTML site of the executed lessons",
                       description="Convert the committed (executed) lessons to HTML with an index page and "
                                   "previous/next navigation. Pages load nothing from the network; "
                                   "formulas become MathML "
                                   "when latex2mathml is installed.")
    w.add_argument("--out", metavar="DIR", default="_site", help="output folder (default _site/)")
    w.add_argument("--force", action="store_true", help=FORCE_HELP)
    w.set_defaults(func=cmd_site)

    sl = sub.add_parser("slides", help="reveal.js slides of one lesson",
                        description="Make reveal.js slides of lesson NN, one slide per section heading.")
    sl.add_argument("lesson", metavar="NN", help="lesson number, e.g. 03")
    sl.add_argument("--out", metavar="DIR", default="_site", help="output folder (default _site/)")
    sl.add_argument("--reveal-prefix", metavar="URL", default=None,
                    help="where reveal.js is loaded from "
                         "(default: a CDN; a relative path to a local copy works offline)")
    sl.add_argument("--force", action="store_true", help=FORCE_HELP)
    sl.set_defaults(func=cmd_slides)

    d = sub.add_parser("data", help="where the datasets live and whether they are complete",
                       description="Show the data folder and, per file, ok / missing / corrupted, with how to "
                                   "get the files offline.")
    d.add_argument("--check", action="store_true", help="exit with status 1 if any file is missing or corrupted")
    d.add_argument("--download", action="store_true",
                   help="download missing files first and replace corrupted ones, kept as NAME.corrupt "
                        "(needs internet; exit status 1 if anything is still missing)")
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
    except OSError as e:  # a file that could not be written half-way (disk full, permissions changed)
        parser.exit(1, f"gan-lessons {args.command}: error: {e}\n"
                       "Files are written whole or not at all; fix the cause (space, permissions) and run it again.\n")
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
