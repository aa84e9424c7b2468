"""Benchmark the scrubber: drawing the frames, moving the slider in Python, and (when Chromium is
installed) a frame in a real browser.

    python scripts/bench_scrubber.py            # toy runs (1-D, 2-D) and an image run
    python scripts/bench_scrubber.py --no-browser

Numbers depend heavily on the machine and on what else runs on it; report them with that context.
"""
import argparse
import io
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from gan_lessons import models, plots, toy, train, widgets

ROOT = Path(__file__).resolve().parents[1]


def histories(snapshots):
    torch.manual_seed(0)
    steps = 10 * (snapshots - 1)
    runs = {}
    runs["1d"] = train.train(models.MLPGenerator(1, 1, hidden=64), models.MLPDiscriminator(1, hidden=64),
                             toy.Gaussian1D(), steps, record_every=10, progress=False)
    runs["2d"] = train.train(models.MLPGenerator(2, 2, hidden=64), models.MLPDiscriminator(2, hidden=64),
                             toy.Ring2D(), steps, record_every=10, progress=False)
    images = torch.rand(512, 1, 28, 28) * 2 - 1  # the drawing cost does not depend on what the digits look like
    runs["images"] = train.train(models.MLPGenerator(32, (1, 28, 28), hidden=64),
                                 models.MLPDiscriminator((1, 28, 28), hidden=64), images, steps, batch_size=32,
                                 record_every=10, progress=False)
    return runs


def bench_python(kind, h):
    os.environ.pop("GAN_LESSONS_HEADLESS", None)
    t0 = time.perf_counter()
    s = widgets.Scrubber(h)
    precompute = time.perf_counter() - t0
    moves = []
    for k in list(range(len(s.indices)))[::-1]:
        t0 = time.perf_counter()
        s.slider.value = k
        moves.append(time.perf_counter() - t0)
    # For comparison: a full matplotlib redraw per frame (what the scrubber avoids while scrubbing).
    fig = widgets._new_figure(h, widgets.DEFAULT_DPI)
    t0 = time.perf_counter()
    for i in range(0, len(h), max(1, len(h) // 10)):
        plots.draw_frame(fig, h, i)
        fig.savefig(io.BytesIO(), format="png")
    full = (time.perf_counter() - t0) / len(range(0, len(h), max(1, len(h) // 10)))
    t0 = time.perf_counter()
    png, html = widgets.render_frame(h, len(h) - 1), widgets.animation_html(h)  # what headless scrub() shows
    static = time.perf_counter() - t0
    size = sum(map(len, s.frames.values()))
    per_frame = 1000 * precompute / len(h)
    print(f"{kind:7s} {len(h):4d} snapshots | precompute {precompute:6.2f} s ({per_frame:5.0f} ms/frame, "
          f"full redraw would be {1000 * full:4.0f} ms) | slider move in Python median "
          f"{1e6 * statistics.median(moves):5.0f} us | frames {size / 1e3:6.0f} kB | headless output "
          f"{static:5.2f} s, {(len(png) + len(html)) / 1e3:5.0f} kB")


def bench_browser():
    if not Path("/usr/bin/chromium").exists():
        print("browser: skipped (/usr/bin/chromium missing)")
        return
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "pytest", "-m", "browser", "-q", "-s", "-p", "no:cacheprovider",
                          str(ROOT / "tests" / "test_browser.py")], capture_output=True, text=True, cwd=ROOT)
    keep = ("per-frame", "passed", "failed", "skipped")
    lines = [line for line in out.stdout.splitlines() if any(word in line for word in keep)]
    print("browser:", *lines, f"(both browser tests: {time.perf_counter() - t0:.0f} s wall)", sep="\n  ")
    if out.returncode:
        print(out.stdout[-3000:])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--snapshots", type=int, default=51, help="snapshots per run (default 51)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    runs = histories(args.snapshots)
    print(f"training the runs: {time.perf_counter() - t0:.1f} s")
    for kind, h in runs.items():
        bench_python(kind, h)
    if not args.no_browser:
        bench_browser()


if __name__ == "__main__":
    main()
