"""Every picture the course draws, in one place: `gl.plots.plot_image_grid(...)` and so on.

Three small modules, each named for what it holds (all their functions are available here):

- `frames`: the scrubber's views of a training run's `History`: `plot_frame` (the view that fits
  the run: 1-D, 2-D or images), `plot_curves`, `plot_history`, `show_frame`, `draw_frame`.
- `images`: `plot_image_grid` (the one image grid: floats in [-1, 1] or a History's uint8
  samples) and `plot_nearest_neighbours`.
- `diagnostics`: one question each: `plot_decision_boundary`, `plot_score_histograms`,
  `plot_generator_loss_curves`, `plot_series`, `plot_sweep`.

Functions draw on the matplotlib axes you pass (``ax=``) or on a new figure, and return what they
drew on.
"""
from .diagnostics import (
    plot_decision_boundary,
    plot_generator_loss_curves,
    plot_score_histograms,
    plot_series,
    plot_sweep,
)
from .frames import (
    FIGSIZE,
    MARKER_STYLE,
    draw_frame,
    layout,
    plot_1d,
    plot_2d,
    plot_curves,
    plot_frame,
    plot_history,
    plot_images,
    show_frame,
)
from .images import plot_image_grid, plot_nearest_neighbours

__all__ = ["plot_frame", "show_frame", "plot_history", "plot_curves", "plot_1d", "plot_2d", "plot_images",
           "draw_frame", "layout", "FIGSIZE", "MARKER_STYLE",
           "plot_image_grid", "plot_nearest_neighbours",
           "plot_decision_boundary", "plot_score_histograms", "plot_generator_loss_curves", "plot_series",
           "plot_sweep"]
