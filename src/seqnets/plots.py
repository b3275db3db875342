"""The figures of a run and of a report, drawn off-screen with matplotlib's object API (no
pyplot state, so drawing in a training process opens no window and leaks nothing)."""

import io
import math
import struct
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from matplotlib.figure import Figure
from tensorboard.compat.proto.summary_pb2 import Summary
from torch.utils.tensorboard import SummaryWriter

# Only a type here: seqnets.logs reads runs, and the tasks that draw with this module are
# what runs builds.
if TYPE_CHECKING:
    from seqnets.logs import Curves

# (x, y) points of one line, keyed by its label.
Series = dict[str, dict[float, float]]
PANELS = (
    ("train/loss", "step", "training loss"),
    ("train/acc", "step", "training accuracy"),
    ("val/acc", "epoch", "validation accuracy"),
)


def mean_points(points: Iterable[tuple[str, float, float]]) -> Series:
    """For each series, the mean y at each x of its (series, x, y) points (over seeds, say)."""
    sums: dict[str, dict[float, list[float]]] = defaultdict(lambda: defaultdict(list))
    for name, x, y in points:
        sums[name][x].append(y)
    return {name: {x: sum(v) / len(v) for x, v in ys.items()} for name, ys in sums.items()}


def curves_figure(runs: dict[str, "Curves"]) -> Figure:
    """Training loss and accuracy over steps, validation accuracy over epochs; a line per run."""
    figure = Figure(figsize=(13, 3.6), layout="constrained")
    for axes, (tag, xlabel, title) in zip(figure.subplots(1, 3), PANELS, strict=True):
        for label, curves in runs.items():
            points = curves.get(tag, [])
            steps = range(1, len(points) + 1) if xlabel == "epoch" else [s for s, _ in points]
            axes.plot(list(steps), [v for _, v in points], label=label, marker=".")
        axes.set(title=title, xlabel=xlabel)
        axes.grid(alpha=0.3)
    if len(runs) > 1:
        figure.legend(*axes.get_legend_handles_labels(), loc="outside right", fontsize="small")
    return figure


def lines_figure(
    title: str,
    xlabel: str,
    ylabel: str,
    series: Series,
    reference: Series | None = None,
    log2_x: bool = False,
) -> Figure:
    """One line per series over a shared x (hidden size, length); references as crosses."""
    figure = Figure(figsize=(6.5, 4), layout="constrained")
    axes = figure.subplots()
    for label, points in series.items():
        xs = sorted(points)
        axes.plot(xs, [points[x] for x in xs], marker="o", label=label)
    for label, points in (reference or {}).items():
        xs = sorted(points)
        axes.plot(xs, [points[x] for x in xs], "x--", color="grey", label=label)
    if log2_x:
        axes.set_xscale("log", base=2)
    axes.set(title=title, xlabel=xlabel, ylabel=ylabel)
    axes.grid(alpha=0.3)
    axes.legend(fontsize="small")
    return figure


def bars_figure(
    title: str, panels: dict[str, dict[str, float]], reference: dict[str, float]
) -> Figure:
    """Side-by-side bar charts over the same runs (accuracy, seconds per epoch, ...), one
    horizontal bar per run with its value written on it, so long run names and close
    accuracies stay readable; the reference values as black ticks on the first panel."""
    count = max(len(values) for values in panels.values())
    figure = Figure(figsize=(5 * len(panels), 1.2 + 0.3 * count), layout="constrained")
    figure.suptitle(title)
    for index, (axes, (name, values)) in enumerate(
        zip(figure.subplots(1, len(panels), squeeze=False)[0], panels.items(), strict=True)
    ):
        labels = list(values)
        bars = axes.barh(labels, [values[label] for label in labels])
        axes.bar_label(bars, fmt="%.3g", fontsize="small", padding=2)
        axes.invert_yaxis()  # the first run on top, as in the report's table
        axes.margins(x=0.15)
        if index == 0:
            marked = [i for i, label in enumerate(labels) if label in reference]
            axes.scatter(
                [reference[labels[i]] for i in marked],
                marked,
                marker="|",
                s=200,
                color="black",
                label="reference",
                zorder=3,
            )
            if marked:
                figure.legend(fontsize="small", loc="outside lower left")
        else:
            axes.tick_params(axis="y", labelleft=False)
        axes.set(xlabel=name)
    return figure


def image_grid(
    images: torch.Tensor, preds: torch.Tensor, labels: torch.Tensor, names: Sequence[str]
) -> Figure:
    """Test images with the predicted and true class; wrong predictions titled in red."""
    cols = min(5, len(images))
    rows = math.ceil(len(images) / cols)
    figure = Figure(figsize=(2.2 * cols, 2.4 * rows), layout="constrained")
    grid = list(figure.subplots(rows, cols, squeeze=False).flat)
    for axes in grid:
        axes.set_axis_off()
    for axes, image, pred, label in zip(grid, images, preds, labels, strict=False):
        axes.imshow(image.numpy(), cmap="gray_r")
        wrong = int(pred) != int(label)
        title = f"{names[int(pred)]}\n(true {names[int(label)]})" if wrong else names[int(pred)]
        axes.set_title(
            ("✗ " if wrong else "") + title, color="red" if wrong else "black", fontsize="small"
        )
    return figure


def save_figures(
    folder: Path, figures: dict[str, Figure], writers: Sequence[SummaryWriter] = ()
) -> None:
    """PNG files in `folder`, and the same images in TensorBoard's IMAGES tab: each figure is
    drawn once, its PNG going to both (SummaryWriter.add_figure would draw it again)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, figure in figures.items():
        drawn = io.BytesIO()
        figure.savefig(drawn, format="png", dpi=100)
        png = drawn.getvalue()
        (folder / f"{name}.png").write_bytes(png)
        for writer in writers:
            writer._get_file_writer().add_summary(png_summary(f"figures/{name}", png))


def png_summary(tag: str, png: bytes) -> Summary:
    """TensorBoard's image summary of a PNG file's bytes, as they are."""
    width, height = struct.unpack(">II", png[16:24])  # the PNG's header (IHDR) chunk
    image = Summary.Image(height=height, width=width, colorspace=4, encoded_image_string=png)
    return Summary(value=[Summary.Value(tag=tag, image=image)])
