"""What a trained network does, drawn from a run's best checkpoint on its own test examples:

    python -m seqnets.inspect run=outputs/runs/<date>/<time> [ckpt_path=...] [examples=1000]

Into the run's figures/: states.png (hidden-state trajectories: the state itself when it has
two units, else its projection on the two principal axes of the examples' states), gates.png
(LSTM and GRU gates over one example), carry.png (addition: which unit holds the carry) and
early.png (one label per sequence: the accuracy when the head reads the state after only the
first t steps); the numbers behind them into inspection.json. Training draws the same at the
end of every run from `inspect_examples` test examples.
"""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import hydra
import torch
import torch.nn.functional as F
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from omegaconf import DictConfig

from seqnets.errors import UserError, one_line_errors
from seqnets.gates import GATES, Trace, unroll
from seqnets.models import RecurrentNet
from seqnets.plots import lines_figure, save_figures
from seqnets.runs import trained_model, write_metrics
from seqnets.tasks.adder import Adder, carries_out
from seqnets.tasks.base import SequenceTask

# States kept per sequence: every step of a row-by-row image (28 rows), every 28th pixel of
# a pixel-by-pixel one, so a 784-step task costs no more memory than a 28-step one.
KEPT_STEPS = 28
CHUNK = 250  # sequences per forward pass
UNITS_SHOWN = 6  # carry.png: the units that track the carry best
SEQUENCES_SHOWN = 4  # carry.png: example sums side by side


def kept_steps(length: int) -> list[int]:
    """Up to KEPT_STEPS step counts, evenly spaced and ending with the whole sequence."""
    stride = -(-length // KEPT_STEPS)
    return list(range(length, 0, -stride))[::-1]


def in_chunks(
    fn: Callable[[torch.Tensor], tuple[torch.Tensor, ...]], x: torch.Tensor
) -> tuple[torch.Tensor, ...]:
    """fn over x a few sequences at a time, each of its results joined: a long sequence's
    every state for a thousand examples would not fit in memory at once, the few kept do."""
    results = [fn(part) for part in x.split(CHUNK)]
    return tuple(torch.cat(parts) for parts in zip(*results, strict=True))


def projection(states: torch.Tensor) -> tuple[torch.Tensor, tuple[str, str]]:
    """States (..., units) in two dimensions with the axes' names: a state of two units as it
    is, else its first two principal components over all the states given."""
    units = states.shape[-1]
    if units <= 2:
        return F.pad(states, (0, 2 - units)), ("unit 1", "unit 2" if units == 2 else "(none)")
    flat = states.reshape(-1, units).double()
    mean = flat.mean(0)
    # The covariance's eigenvectors, not an SVD of the tall matrix: as exact, a hundred
    # times cheaper for 28,000 states of 128 units.
    variances, axes = torch.linalg.eigh((flat - mean).T @ (flat - mean))
    share = variances.flip(0) / variances.sum()
    names = (f"PC1 ({share[0]:.0%} of variance)", f"PC2 ({share[1]:.0%})")
    return ((states - mean) @ axes[:, [-1, -2]]).float(), names


def separation(final: torch.Tensor, y: torch.Tensor) -> dict[str, Any]:
    """How the final states group by class: the share nearer their own class's mean than any
    other's (that rule splits the state space by straight boundaries), and how many classes
    keep most of their examples in their own part."""
    classes = y.unique()
    centres = torch.stack([final[y == c].mean(0) for c in classes])
    right = classes[torch.cdist(final, centres).argmin(1)] == y
    groups = sum(int(right[y == c].float().mean() > 0.5) for c in classes)
    return {
        "nearest_mean_acc": float(right.float().mean()),
        "separated_groups": groups,
        "classes": len(classes),
    }


def correlation(values: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Pearson's r of each column of values (samples, columns) with target (samples)."""
    v, t = values - values.mean(0), target - target.mean()
    return (v * t[:, None]).sum(0) / (v.norm(dim=0) * t.norm()).clamp_min(1e-12)


def carry_tracking(states: torch.Tensor, carry: torch.Tensor) -> dict[str, Any]:
    """Which unit holds the carry: each unit's r with the true carry over all steps, the best
    unit, and the r of the best linear read-out of the whole state (a direction)."""
    flat, target = states.flatten(0, 1), carry.flatten().float()
    r = correlation(flat, target)
    best = int(r.abs().argmax())
    design = torch.cat([flat, torch.ones(len(flat), 1)], 1)
    fitted = design @ torch.linalg.lstsq(design, target[:, None]).solution
    return {
        "r_by_unit": r.tolist(),
        "best_unit": best + 1,  # counted from 1, as the figures do
        "best_r": float(r[best]),
        "direction_r": float(correlation(fitted, target)[0]),
    }


def early_accuracy(
    net: RecurrentNet, x: torch.Tensor, y: torch.Tensor, states: torch.Tensor, steps: list[int]
) -> dict[int, float]:
    """Accuracy when the head reads the state after only the first t steps, for each kept t.
    One direction: the head on the states already read; two: the backward pass depends on the
    whole sequence, so the network reads each prefix again."""
    if net.directions == 1:
        right = net.head(states).argmax(-1) == y[:, None]
        return dict(zip(steps, right.float().mean(0).tolist(), strict=True))
    return {
        t: float((in_chunks(lambda part: (net(part),), x[:, :t])[0].argmax(1) == y).float().mean())
        for t in steps
    }


def class_colours(count: int) -> list:
    """Distinct colours for the classes (tab10 up to ten)."""
    cmap = colormaps["tab10" if count <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(count)]


def states_figure(
    coords: torch.Tensor, y: torch.Tensor, names: tuple[str, str], title: str, per_step: bool
) -> Figure:
    """Sequences of one label: the final states coloured by class, one trajectory per class
    from its first step, each class's mean state labelled. One label per step (addition):
    every state coloured by that step's label and a few trajectories in grey."""
    figure = Figure(figsize=(7, 5.5), layout="constrained")
    axes = figure.subplots()
    colours = class_colours(int(y.max()) + 1)
    points, labels = (coords.flatten(0, 1), y.flatten()) if per_step else (coords[:, -1], y)
    for c in labels.unique().tolist():
        group = points[labels == c]
        axes.scatter(*group.T, s=8, alpha=0.4, color=colours[c], label=str(c), linewidths=0)
        if not per_step:
            first = coords[int((y == c).nonzero()[0])]
            axes.plot(*first.T, color=colours[c], lw=1, alpha=0.9)
            axes.plot(*first[0], "o", color=colours[c], ms=3)
            axes.annotate(str(c), group.mean(0).tolist(), fontweight="bold", ha="center")
    if per_step:
        for path in coords[:2]:
            axes.plot(*path.T, color="grey", lw=0.8, marker=".", ms=3)
    figure.legend(title="target", fontsize="small", markerscale=2, loc="outside right upper")
    axes.set(title=title, xlabel=names[0], ylabel=names[1])
    axes.grid(alpha=0.3)
    return figure


def carry_figure(states: torch.Tensor, carry: torch.Tensor, tracked: dict[str, Any]) -> Figure:
    """Left, each unit's activation when the true carry is 0 and when it is 1 (the best units
    first); right, the best unit over a few example sums, the steps carrying 1 shaded."""
    r = torch.tensor(tracked["r_by_unit"])
    units = r.abs().argsort(descending=True)[:UNITS_SHOWN].tolist()
    mosaic = [[f"u{u}", "time"] for u in units]
    figure = Figure(figsize=(11, 1.3 + 1.3 * len(units)), layout="constrained")
    panels = figure.subplot_mosaic(mosaic, width_ratios=[1, 2])
    # float64: a saturated unit spans a few float32 steps, too few for thirty float32 bins.
    flat, bits = states.flatten(0, 1).double(), carry.flatten()
    for u in units:
        axes = panels[f"u{u}"]
        for bit, colour in ((0, "tab:blue"), (1, "tab:orange")):
            axes.hist(flat[bits == bit, u], bins=30, alpha=0.6, color=colour, label=f"carry {bit}")
        axes.set_title(f"unit {u + 1}: r = {r[u]:.2f}", fontsize="small")
        axes.tick_params(labelsize="small")
    panels[f"u{units[0]}"].legend(fontsize="x-small")
    best = tracked["best_unit"] - 1
    shown, truth = states[:SEQUENCES_SHOWN, :, best].flatten(), carry[:SEQUENCES_SHOWN].flatten()
    axes, steps = panels["time"], torch.arange(1, len(shown) + 1)
    low, high = float(shown.min()), float(shown.max())
    carried = truth.bool()
    axes.bar(steps[carried], high - low, bottom=low, width=1, color="tab:orange", alpha=0.25,
             label="true carry 1")  # fmt: skip
    axes.plot(steps, shown, marker="o", color="black", label=f"unit {best + 1}")
    axes.use_sticky_edges = False  # a margin below the shading, so low points show whole
    for edge in range(1, SEQUENCES_SHOWN):
        axes.axvline(edge * states.shape[1] + 0.5, color="grey", ls=":")
    axes.set(
        title=f"unit {best + 1} over {SEQUENCES_SHOWN} test sums (LSB first; dotted: next sum)",
        xlabel="step",
        ylabel="activation",
    )
    axes.legend(fontsize="small")
    figure.suptitle(
        f"Which unit holds the carry? best |r| = {abs(tracked['best_r']):.3f}, "
        f"best direction r = {tracked['direction_r']:.3f}"
    )
    return figure


def gates_figure(trace: Trace, kind: str, about: str) -> Figure:
    """Each gate of the first example as a heat map of unit against step, one row per layer
    and direction: 1 lets through, 0 blocks."""
    names, keys = GATES[kind], sorted(trace.gates)
    figure = Figure(figsize=(2 + 3.5 * len(names), 1 + 2.4 * len(keys)), layout="constrained")
    grid = figure.subplots(len(keys), len(names), squeeze=False)
    for row, (layer, direction) in zip(grid, keys, strict=True):
        where = f"layer {layer + 1}{' backward' if direction else ''}: " if len(keys) > 1 else ""
        for axes, name in zip(row, names, strict=True):
            values = trace.gates[(layer, direction)][name][0].T.cpu()
            steps, units = values.shape[1], values.shape[0]
            image = axes.imshow(values, aspect="auto", vmin=0, vmax=1, interpolation="nearest",
                                extent=(0.5, steps + 0.5, units + 0.5, 0.5))  # fmt: skip
            axes.xaxis.set_major_locator(MaxNLocator(integer=True))
            axes.yaxis.set_major_locator(MaxNLocator(integer=True))
            axes.set(title=f"{where}{name} gate", xlabel="step", ylabel="unit")
    figure.colorbar(image, ax=grid, shrink=0.8)
    meaning = {
        "LSTM": "forget 1 keeps the cell, input 1 writes to it, output 1 shows it",
        "GRU": "update 1 keeps the state, reset 0 ignores it in the new candidate",
    }
    figure.suptitle(f"{kind} gates over {about}\n({meaning[kind]})")
    return figure


def inspect_network(
    net: RecurrentNet, task: SequenceTask, count: int
) -> tuple[dict[str, Figure], dict[str, Any]]:
    """The figures of what `net` does on the task's first `count` test examples (the task's
    data set up already), by file name, and the numbers behind them."""
    device = next(net.parameters()).device
    x, y = (t.to(device) for t in task.inspection_set(count))
    steps = kept_steps(x.shape[1])
    index = torch.tensor(steps) - 1
    was_training = net.training
    net.eval()  # no dropout between layers, as the unrolled steps
    with torch.inference_mode():
        logits, states = in_chunks(lambda part: net.read(part, index), x)
        right = logits.argmax(-1) == y
        early = None if net.every_step else early_accuracy(net, x, y, states, steps)
        trace = unroll(net.rnn, x[:1]) if net.rnn.mode in GATES else None
    net.train(was_training)
    x, y, states = x.cpu(), y.cpu(), states.cpu()
    summary: dict[str, Any] = {"examples": len(y), "accuracy": float(right.float().mean())}
    coords, names = projection(states)
    figures = {
        "states": states_figure(
            coords,
            y[:, index] if net.every_step else y,
            names,
            f"{task.name}: hidden states of {len(y)} test examples",
            net.every_step,
        )
    }
    summary["state_axes"] = list(names)
    if not net.every_step:
        summary["separation"] = separation(states[:, -1], y)
        summary["early_acc"] = {str(t): a for t, a in early.items()}
        figures["early"] = lines_figure(
            f"{task.name}: when does the network know? ({len(y)} test examples)",
            "steps read",
            "test accuracy reading the state then",
            {"accuracy": early},
            {"chance": dict.fromkeys(early, 1 / task.num_classes)},
        )
    if isinstance(task, Adder):
        carry = carries_out(x)[:, index]
        summary["carry"] = carry_tracking(states, carry)
        figures["carry"] = carry_figure(states, carry, summary["carry"])
    if trace is not None:
        target = int(y[0]) if not net.every_step else "one bit per step"
        figures["gates"] = gates_figure(trace, net.rnn.mode, f"test example 1 (target {target})")
    return figures, summary


def inspect(run: Path, ckpt_path: str | None = None, examples: int = 1000) -> dict[str, Any]:
    """Draw the run's figures of what its network does and keep the numbers in inspection.json."""
    if not isinstance(examples, int) or examples < 1:
        raise UserError(f"examples={examples}: must be an integer >= 1")
    task, module, checkpoint = trained_model(run, ckpt_path)
    task.setup("test")
    figures, summary = inspect_network(module.net, task, examples)
    save_figures(run / "figures", figures)
    summary = {"checkpoint": checkpoint, **summary}
    write_metrics(run, summary, name="inspection.json")
    return summary


@hydra.main(version_base="1.3", config_path="pkg://seqnets.conf", config_name="inspect")
def main(cfg: DictConfig) -> None:
    with one_line_errors():
        summary = inspect(Path(cfg.run), cfg.ckpt_path, cfg.examples)
        print(json.dumps({k: v for k, v in summary.items() if k != "early_acc"}, indent=2))


if __name__ == "__main__":
    main()
