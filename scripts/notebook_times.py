#!/usr/bin/env python
"""Wall time of every lesson notebook, with default and with FAST parameters, as one table.

    python scripts/notebook_times.py                 # all lessons, CPU, both modes
    python scripts/notebook_times.py --only 03,07 --modes fast
    python scripts/notebook_times.py --device cuda

Each notebook runs headless with papermill (gan_lessons.course.notebooks.execute, the same runner as
`gan-lessons run`), in a fresh kernel, writing executed copies to a temporary folder (the committed
notebooks are not touched). The budgets from CONTRIBUTING.md are checked: default parameters
<= 3 min and FAST <= 45 s on 2 CPU cores. Exit status 1 if a notebook fails, 0 otherwise (a
notebook over budget is flagged in the table but is not an error: timings depend on the machine
and its load). Runs one notebook at a time.
"""
import argparse
import sys
import tempfile
from pathlib import Path

from gan_lessons.course import notebooks as nbs

BUDGETS = {"default": 180.0, "fast": 45.0}  # seconds on 2 CPU cores (CONTRIBUTING.md)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--only", metavar="NN,NN", help="comma-separated lesson numbers, e.g. 03,05")
    p.add_argument("--modes", default="default,fast", help="default, fast or both (default: both)")
    p.add_argument("--device", default="cpu", help="exported as GAN_LESSONS_DEVICE (default cpu)")
    p.add_argument("--notebooks", metavar="DIR", default=None, help="folder of the lessons (default notebooks/)")
    p.add_argument("--timeout", type=int, default=1200, help="seconds allowed per cell")
    args = p.parse_args(argv)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if not modes or set(modes) - set(BUDGETS):
        p.error(f"--modes must name default and/or fast, got {args.modes!r}")
    only = [s for s in args.only.replace(" ", ",").split(",") if s] if args.only else None
    try:
        paths = nbs.list_lessons(args.notebooks, only)
    except (ValueError, FileNotFoundError) as e:
        p.error(str(e))
    if not paths:
        p.error("no lesson notebooks found")

    rows, failed = [], []
    with tempfile.TemporaryDirectory(prefix="gl-times-") as out:
        for path in paths:
            row = {"name": path.name}
            for mode in modes:
                params = {"FAST": True} if mode == "fast" else None
                r = nbs.execute(path, Path(out) / mode / path.name, parameters=params, timeout=args.timeout,
                                device=args.device)
                row[mode] = r
                if r["status"] != "ok":
                    failed.append((path.name, mode, r))
                print(f"  {path.name} [{mode}] {r['status']} {r['seconds']:.1f} s", file=sys.stderr, flush=True)
            rows.append(row)

    width = max(len(r["name"]) for r in rows)
    head = f"{'notebook':<{width}}" + "".join(f"  {m + ' (budget ' + str(int(BUDGETS[m])) + ' s)':>24}" for m in modes)
    print("\n" + head)
    print("-" * len(head))
    for row in rows:
        cells = []
        for m in modes:
            r = row[m]
            flag = "FAILED" if r["status"] != "ok" else ("OVER" if r["seconds"] > BUDGETS[m] else "ok")
            cells.append(f"  {r['seconds']:>15.1f} s {flag:>6}")
        print(f"{row['name']:<{width}}" + "".join(cells))
    totals = "".join(f"  {sum(r[m]['seconds'] for r in rows):>15.1f} s {'':>6}" for m in modes)
    print(f"{'total':<{width}}" + totals)
    for name, mode, r in failed:
        print(f"\n{name} [{mode}] failed at cell {r['cell']}: {r['error']}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
