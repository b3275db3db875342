"""Compare finished runs without a notebook:

    python -m seqnets.report PATH... [--out DIR]

PATH is a multirun folder or any run folders. Writes report.md, report.csv and figures/ to
DIR (default PATH/report, or the paths' common folder/report): one row per run, grouped by
task, the swept keys first; runs that did not complete are listed with their status; where a
run repeats one of the reference experiments, the reference's result stands beside it; an
Optuna search (hparams_search=...) gets its best trial and its objective over the trials.
"""

import argparse
import csv
import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure
from omegaconf import DictConfig
from rich.progress import Progress

from seqnets.errors import UserError, one_line_errors
from seqnets.logs import Curves, read_curves
from seqnets.plots import curves_figure, lines_figure, save_figures
from seqnets.runs import (
    objective,
    read_metrics,
    read_yaml,
    run_identity,
    task_class,
    whole_config,
)
from seqnets.sweep import SEARCH_RESULTS, best_trial


@dataclass
class Run:
    path: Path
    cfg: DictConfig
    metrics: dict[str, Any]  # what metrics.json says, or what the config says the run is
    overrides: dict[str, str]
    curves: Curves
    inspection: dict[str, Any]  # what inspection.json says (seqnets.inspect), if the run has one

    @property
    def completed(self) -> bool:
        return self.metrics["status"] == "completed"

    @property
    def loss(self) -> str:
        """The loss option the run used, as the config group names it."""
        return self.overrides.get("loss") or self.cfg.loss._target_.rsplit(".", 1)[-1]

    def reference(self) -> float | None:
        """The assignment's result for the same experiment, if this run repeats one; its task
        class knows which."""
        return task_class(self.cfg).reference(self)


def read_run(folder: Path) -> Run | None:
    """A training run's folder as the report sees it; None for a folder of another command."""
    saved = folder / ".hydra" / "config.yaml"
    cfg = read_yaml(saved)
    if "run" in cfg:  # evaluate's or predict's: it names the run it read
        return None
    cfg = whole_config(saved, cfg)
    metrics = folder / "metrics.json"
    if metrics.is_file():
        recorded = read_metrics(metrics)
    else:
        recorded = {"status": "unfinished", "error": "no metrics.json: running, or killed"}
    overrides = read_yaml(folder / ".hydra" / "overrides.yaml")
    pairs = dict(item.lstrip("+~").split("=", 1) for item in overrides if "=" in item)
    inspected = folder / "inspection.json"
    inspection = read_metrics(inspected) if inspected.is_file() else {}
    return Run(
        folder, cfg, {**run_identity(cfg), **recorded}, pairs, read_curves(folder), inspection
    )


def natural_key(path: Path) -> list[tuple[int, int | str]]:
    """Job 10 after job 9."""
    return [(0, int(p)) if p.isdigit() else (1, p) for p in path.parts]


def find_runs(paths: list[Path]) -> list[Run]:
    """Every training run under the paths, read with a progress bar."""
    for path in paths:
        if not path.is_dir():
            raise UserError(f"{path}: no such folder")
    folders = sorted(
        {c.parent.parent for path in paths for c in path.glob("**/.hydra/config.yaml")},
        key=natural_key,
    )
    # A context, not rich's `track`: a damaged run raises out of the loop, and `track` would
    # leave its display running (and its lock held) until the collector finds the generator.
    with Progress(transient=True) as progress:
        runs = [read_run(f) for f in progress.track(folders, description="reading runs")]
    runs = [run for run in runs if run is not None]
    if not runs:
        where = " ".join(map(str, paths))
        raise UserError(
            f"{where}: no runs found (a run folder holds .hydra/config.yaml from "
            "python -m seqnets.train)"
        )
    return runs


def swept_keys(runs: list[Run]) -> list[str]:
    """Command-line keys whose value is not the same in every run, in the order first given."""
    keys = list(dict.fromkeys(key for run in runs for key in run.overrides))
    return [k for k in keys if len({run.overrides.get(k) for run in runs}) > 1]


def label(run: Run, keys: list[str]) -> str:
    """A short name for the run: its values of the swept keys it set."""
    parts = [
        f"{key.rsplit('.', 1)[-1]}={run.overrides[key]}" for key in keys if key in run.overrides
    ]
    return " ".join(parts) or f"{run.metrics['model']} {run.path.name}"


def flat_metrics(run: Run) -> dict[str, Any]:
    """Test metrics with the per-length ones spread into a column each, e.g. test_acc_by_len.15."""
    flat: dict[str, Any] = {}
    for key, value in run.metrics.items():
        if not key.startswith("test_") or key == "test_samples":
            continue
        if isinstance(value, dict):
            flat.update({f"{key}.{n}": v for n, v in value.items()})
        else:
            flat[key] = value
    return flat


def rows(runs: list[Run], keys: list[str]) -> list[dict[str, Any]]:
    """One row per run: swept keys, status, test metrics, reference, speed and size."""
    return [
        {
            "task": run.metrics["task"],
            **{key: run.overrides.get(key, "") for key in keys or ["model"]},
            "status": run.metrics["status"],
            **flat_metrics(run),
            "reference_acc": run.reference(),
            "sec_per_epoch": run.metrics.get("sec_per_epoch"),
            "num_params": run.metrics.get("num_params"),
            "epochs": run.metrics.get("epochs"),
            "run": str(run.path),
            "error": run.metrics.get("error", ""),
        }
        for run in runs
    ]


def cell(column: str, value: Any) -> str:
    """Accuracies in %, seconds to two places, blanks for what a run did not record."""
    if value is None or value == "":
        return ""
    if isinstance(value, float) and ("acc" in column or "exact" in column):
        return f"{100 * value:.2f}"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def markdown_table(table: list[dict[str, Any]]) -> list[str]:
    """The rows as a Markdown table, per-length columns left to the CSV and the figures."""
    columns = [c for c in table[0] if "." not in c or not c.startswith("test_")]
    columns = [c for c in columns if c not in ("task", "error", "run")]
    lines = ["| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
    lines += ["| " + " | ".join(cell(c, row.get(c)) for c in columns) + " |" for row in table]
    return lines


def task_figures(task: str, runs: list[Run], keys: list[str]) -> dict[str, Figure]:
    """The figures of one task's completed runs, by file name: the training curves and early
    readings every task has, then the task class's own."""
    done = [run for run in runs if run.completed]
    figures: dict[str, Figure] = {}
    curves = {label(run, keys): run.curves for run in done if run.curves}
    if curves:
        figures[f"{task}_curves"] = curves_figure(curves)
    if not done:
        return figures
    early = {
        label(run, keys): {int(t): acc for t, acc in run.inspection["early_acc"].items()}
        for run in done
        if "early_acc" in run.inspection
    }
    if early:
        figures[f"{task}_early"] = lines_figure(
            f"{task}: test accuracy reading the state after t steps",
            "steps read",
            "accuracy",
            early,
        )
    own = task_class(done[0].cfg).report_figures(task, done, lambda run: label(run, keys))
    return {**figures, **own}


def searches(runs: list[Run]) -> dict[Path, list[Run]]:
    """The runs of each Optuna search among them, in trial order, by the sweep folder where
    the sweeper left its results."""
    found: dict[Path, list[Run]] = defaultdict(list)
    for run in runs:
        if (run.path.parent / SEARCH_RESULTS).is_file():
            found[run.path.parent].append(run)
    return found


def objective_figure(title: str, runs: list[Run]) -> Figure:
    """Each trial's objective in the order they ran, and the best so far: how far the search
    got and whether more trials would pay. A failed trial has no point."""
    checkpoint = runs[0].cfg.callbacks.checkpoint
    better = max if checkpoint.mode == "max" else min
    scores: dict[float, float] = {}
    best: dict[float, float] = {}
    for trial, run in enumerate(runs):
        score = objective(run.metrics)
        if run.completed and score is not None:
            scores[trial] = score
            best[trial] = better(score, best[max(best)]) if best else score
    series = {"trial": scores, "best so far": best}
    return lines_figure(title, "trial", checkpoint.monitor, series)


def search_sections(runs: list[Run], out: Path) -> list[str]:
    """For each Optuna search among the runs: its best trial and its objective figure."""
    md: list[str] = []
    for number, (sweep, trials) in enumerate(searches(runs).items(), start=1):
        monitor = trials[0].cfg.callbacks.checkpoint.monitor
        name = f"search{number}_objective"
        save_figures(out / "figures", {name: objective_figure(f"search: {sweep.name}", trials)})
        done = sum(run.completed for run in trials)
        md += ["", f"## search {sweep}: {done} of {len(trials)} trials completed", ""]
        md += [best_trial(sweep, [run.path for run in trials], monitor) or "", ""]
        md += [f"![{name}](figures/{name}.png)"]
    return md


def write_report(paths: list[Path], out: Path) -> Path:
    """report.md, report.csv and figures/ for the runs under `paths`; returns report.md."""
    runs = find_runs(paths)
    by_task: dict[str, list[Run]] = defaultdict(list)
    for run in runs:
        by_task[run.metrics["task"]].append(run)
    out.mkdir(parents=True, exist_ok=True)
    md = [
        "# seqnets report",
        "",
        f"{len(runs)} runs under {', '.join(map(str, paths))}. Accuracies in %; "
        "reference_acc is the assignment's result for the same experiment.",
    ]
    table_rows: list[dict[str, Any]] = []
    for task, task_runs in by_task.items():
        keys = swept_keys(task_runs)
        table = rows(task_runs, keys)
        table_rows += table
        done = sum(run.completed for run in task_runs)
        md += ["", f"## {task}: {done} of {len(task_runs)} runs completed", ""]
        md += markdown_table(table)
        figures = task_figures(task, task_runs, keys)
        save_figures(out / "figures", figures)
        md += [""] + [f"![{name}](figures/{name}.png)" for name in figures]
        failed = [run for run in task_runs if not run.completed]
        if failed:
            md += ["", "Not completed:", ""]
            md += [
                f"- `{run.path}`: {run.metrics['status']}: {run.metrics.get('error', '')}"
                for run in failed
            ]
    md += search_sections(runs, out)
    (out / "report.md").write_text("\n".join(md) + "\n")
    columns = list(dict.fromkeys(column for row in table_rows for column in row))
    with (out / "report.csv").open("w", newline="") as file:
        writer = csv.DictWriter(file, columns)
        writer.writeheader()
        writer.writerows(table_rows)
    return out / "report.md"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m seqnets.report", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "paths", nargs="+", type=Path, metavar="PATH", help="a multirun folder or run folders"
    )
    parser.add_argument("--out", type=Path, help="where to write (default: PATH/report)")
    args = parser.parse_args(argv)
    out = args.out or Path(os.path.commonpath([p.resolve() for p in args.paths])) / "report"
    with one_line_errors():
        print(f"report: {write_report(args.paths, out)}")


if __name__ == "__main__":
    main()
