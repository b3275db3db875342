"""Time to target: the plain command's task settings against the presets they replaced, side
by side in one run (each round trains the preset, then the plain command, per workload).

A preset is the plain command with the settings it used to carry: 200 epochs for recall
(lr 0.03 gated, 0.01 vanilla), 30 epochs at lr 0.005 for addition, no early stop. Each run
reports its training seconds (`train_time_s`) and whether it met the issue's target.

    python benchmarks/time_to_target.py [--rounds 1] [--out benchmarks/TIME_TO_TARGET.md]
"""

import argparse
import datetime
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import ROOT, config

from seqnets.train import train

QUIET = ["logger=none", "callbacks.progress=null", "trainer.accelerator=cpu"]
Target = Callable[[dict[str, Any]], bool]


def recall_solved(m: dict[str, Any]) -> bool:
    """100 % at every trained length, >= 99 % at 15 and 20."""
    by_len = m["test_acc_by_len"]
    trained = [v for n, v in by_len.items() if int(n) <= 10]
    return min(trained) == 1.0 and min(by_len["15"], by_len["20"]) >= 0.99


def sums_solved(m: dict[str, Any]) -> bool:
    """Every 8- and 64-bit sum right, >= 99 % of the 1024-bit ones."""
    exact = m["test_exact_by_bits"]
    return exact["8"] == exact["64"] == 1.0 and exact["1024"] >= 0.99


# workload: (the plain command, what the preset added, the target)
WORKLOADS: dict[str, tuple[list[str], list[str], Target]] = {
    "recall, GRU-5": (
        ["task=recall", "model=gru", "model.hidden_size=5"],
        ["trainer.max_epochs=200", "callbacks.early_stopping=null"],
        recall_solved,
    ),
    "recall, RNN-5 (target >= 90 %)": (
        ["task=recall", "model=rnn", "model.hidden_size=5"],
        ["trainer.max_epochs=200", "callbacks.early_stopping=null"],
        lambda m: m["test_acc"] >= 0.9,
    ),
    "adder, RNN-4": (
        ["task=adder", "model=rnn", "model.hidden_size=4"],
        ["optim.lr=0.005", "trainer.max_epochs=30", "callbacks.early_stopping=null"],
        sums_solved,
    ),
}


def run(overrides: list[str]) -> dict[str, Any]:
    return train(config(*overrides, *QUIET))


def measure(plain: list[str], preset: list[str], target: Target, rounds: int) -> list[str]:
    """Median training seconds of each, their ratio, and how many runs met the target."""
    results: dict[str, list[dict[str, Any]]] = {"preset": [], "plain": []}
    for _ in range(rounds):
        results["preset"].append(run([*plain, *preset]))
        results["plain"].append(run(plain))
    seconds = {k: statistics.median(m["train_time_s"] for m in v) for k, v in results.items()}
    met = {k: f"{sum(map(target, v))}/{rounds}" for k, v in results.items()}
    epochs = {k: statistics.median(m["epochs"] for m in v) for k, v in results.items()}
    return [
        f"{seconds['preset']:.1f} ({epochs['preset']:.0f} ep.)",
        f"{seconds['plain']:.1f} ({epochs['plain']:.0f} ep.)",
        f"{seconds['plain'] / seconds['preset']:.2f}",
        met["preset"],
        met["plain"],
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "TIME_TO_TARGET.md")
    args = parser.parse_args()
    lines = [
        "| workload | preset: train s | plain command: train s | ratio | preset met | plain met |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, (plain, preset, target) in WORKLOADS.items():
        lines.append("| " + " | ".join([name, *measure(plain, preset, target, args.rounds)]) + " |")
        print(lines[-1], flush=True)
    header = [
        "# Time to target",
        "",
        f"{datetime.date.today()}, {args.rounds} round(s), seed 42; written by "
        "`make bench-target` (benchmarks/time_to_target.py).",
        "",
    ]
    args.out.write_text("\n".join(header + lines) + "\n")


if __name__ == "__main__":
    main()
