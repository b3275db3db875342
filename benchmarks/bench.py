"""Seconds per training epoch, measured side by side in one run (rounds alternate a, s, b, c, f):

  (a) seqnets: epochs through Trainer.fit with the shipped config (logger, progress bar,
      last checkpoint, learning-rate monitor; validation off, as in b and c),
  (s) the same with Lightning's callbacks and logger off, as barebones has them: what seqnets
      itself adds over (f), the rest of a/f being the parts of Lightning that a run uses,
  (b) a bare PyTorch loop: the identical model and optimizer over tensors in memory,
  (c) the usual student loop: torchvision dataset + ToTensor + DataLoader(batch 100), nn.<CELL>,
  (f) Lightning's own floor: the least LightningModule (a training step) with the same model,
      optimizer, data module and gradient clipping, in `Trainer(barebones=True)`,

for LSTM-128, GRU-128 and RNN-128 on Fashion-MNIST, and all but (c) for the recall task at
hidden 5. Also the peak resident memory of a whole Fashion-MNIST LSTM run.

    python benchmarks/bench.py [--rounds 3] [--out benchmarks/RESULTS.md]   # make bench
"""

import argparse
import copy
import datetime
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import lightning as L
import torch
import torch.nn.functional as F
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import DictConfig, open_dict
from torch import nn
from torch.utils.data import DataLoader
from torchvision import datasets
from torchvision.datasets.utils import extract_archive
from torchvision.transforms import ToTensor

from seqnets.models import CELLS
from seqnets.runs import build, build_module

ROOT = Path(__file__).resolve().parents[1]
FASHION = Path("/usr/share/datasets/fashion-mnist")
Epoch = Callable[[], float]


def config(*overrides: str) -> DictConfig:
    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=list(overrides))
    with open_dict(cfg):
        cfg.output_dir = tempfile.mkdtemp(prefix="seqnets-bench-")
    return cfg


def seqnets_epoch(cfg: DictConfig) -> Epoch:
    """(a): each call fits `trainer.max_epochs` more epochs of the same module with a fresh
    Trainer, and returns their mean."""
    L.seed_everything(0)
    task, module, _ = build(cfg)

    def epoch() -> float:
        _, _, trainer = build(cfg)
        trainer.fit(module, datamodule=task)
        return statistics.mean(module.epoch_seconds[-cfg.trainer.max_epochs :])

    return epoch


def model_and_optimizer(cfg: DictConfig) -> tuple[nn.Module, torch.optim.Optimizer]:
    """The configured net and the optimizer (fused or not) that the module's own
    configure_optimizers makes, so (b) and (f) always step what users run."""
    module = build_module(cfg)
    configured = module.configure_optimizers()
    optimizer = configured["optimizer"] if isinstance(configured, dict) else configured
    return module.net, optimizer


def loss_of(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    logits = model(x)
    return F.cross_entropy(logits.transpose(1, 2) if logits.dim() == 3 else logits, y)


def bare_epoch(
    cfg: DictConfig, batches: Callable[[], list[tuple[torch.Tensor, torch.Tensor]]]
) -> Epoch:
    """(b): the same model, optimizer and clipping stepping through ready batches for as many
    epochs as (a); nothing else."""
    model, optimizer = model_and_optimizer(cfg)
    clip = cfg.trainer.gradient_clip_val

    def epoch() -> float:
        started = time.perf_counter()
        for _ in range(cfg.trainer.max_epochs):
            for x, y in batches():
                optimizer.zero_grad()
                loss_of(model, x, y).backward()
                if clip:
                    nn.utils.clip_grad_norm_(model.parameters(), clip)
                optimizer.step()
        return (time.perf_counter() - started) / cfg.trainer.max_epochs

    return epoch


class Floor(L.LightningModule):
    """The least a LightningModule can be: the same model and optimizer, a training step."""

    def __init__(self, cfg: DictConfig) -> None:
        super().__init__()
        self.net, self.optimizer = model_and_optimizer(cfg)
        self.epoch_seconds: list[float] = []

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        return loss_of(self.net, *batch)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return self.optimizer

    def on_train_epoch_start(self) -> None:
        self.started = time.perf_counter()

    def on_train_epoch_end(self) -> None:
        self.epoch_seconds.append(time.perf_counter() - self.started)


def floor_epoch(cfg: DictConfig) -> Epoch:
    """(f): what Lightning alone costs, `Floor` in a Trainer with everything that costs time off."""
    task, module = instantiate(cfg.task), Floor(cfg)
    epochs = cfg.trainer.max_epochs

    def epoch() -> float:
        trainer = L.Trainer(
            max_epochs=epochs,
            accelerator="cpu",
            barebones=True,
            gradient_clip_val=cfg.trainer.gradient_clip_val,
        )
        trainer.fit(module, datamodule=task)
        return statistics.mean(module.epoch_seconds[-epochs:])

    return epoch


def image_batches(cfg: DictConfig) -> Callable[[], list[tuple[torch.Tensor, torch.Tensor]]]:
    """The training split as one float tensor in [0, 1], shuffled and cut each epoch."""
    task = instantiate(cfg.task)
    task.setup()
    images, labels = task.splits["train"]
    images = images.float() / 255

    def batches() -> list[tuple[torch.Tensor, torch.Tensor]]:
        order = torch.randperm(len(labels)).split(cfg.task.batch_size)
        return [(images[i], labels[i]) for i in order]

    return batches


def drawn_batches(cfg: DictConfig) -> Callable[[], list[tuple[torch.Tensor, torch.Tensor]]]:
    """A synthetic task's training batches, drawn as seqnets draws them, each epoch anew."""
    task = instantiate(cfg.task)
    generator = torch.Generator().manual_seed(0)
    count = len(task.train_dataloader())
    return lambda: [task.draw_train(generator) for _ in range(count)]


def reference_epoch(cell: str, hidden: int, lr: float) -> Epoch:
    """(c): the loop as it is usually written, reading through torchvision's dataset."""
    root = Path(tempfile.mkdtemp(prefix="seqnets-bench-fashion-"))
    raw = root / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for archive in FASHION.glob("*.gz"):
        extract_archive(str(archive), str(raw))
    loader = DataLoader(
        datasets.FashionMNIST(str(root), train=True, transform=ToTensor()),
        batch_size=100,
        shuffle=True,
    )
    rnn = CELLS[cell](28, hidden, batch_first=True)
    head = nn.Linear(hidden, 10)
    optimizer = torch.optim.Adam([*rnn.parameters(), *head.parameters()], lr=lr)

    def epoch() -> float:
        started = time.perf_counter()
        for x, y in loader:
            optimizer.zero_grad()
            out, _ = rnn(x.squeeze(1))
            F.cross_entropy(head(out[:, -1]), y).backward()
            optimizer.step()
        return time.perf_counter() - started

    return epoch


def alternate(contenders: dict[str, Epoch], rounds: int) -> dict[str, list[float]]:
    """Seconds per epoch of each contender in each round, the contenders taking turns."""
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, epoch in contenders.items():
            times[name].append(epoch())
    return times


def ratio(times: dict[str, list[float]], x: str, y: str) -> float:
    """The median over rounds of x/y within each round: neighbouring turns, so a machine that
    slows down for a while moves both terms."""
    return statistics.median(a / b for a, b in zip(times[x], times[y], strict=True))


def peak_rss_of_a_run() -> float:
    """GB: peak resident memory of a whole one-epoch Fashion-MNIST LSTM run, in a child."""
    with tempfile.TemporaryDirectory() as out:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "seqnets.train",
                "task=fashion_mnist",
                f"task.data_dir={FASHION}",
                "model=lstm",
                "trainer.max_epochs=1",
                "callbacks.progress=null",
                f"hydra.run.dir={out}",
            ],
            check=True,
            capture_output=True,
        )
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024**2


QUIET = ("+trainer.limit_val_batches=0", "callbacks.checkpoint=null", "trainer.accelerator=cpu")


def without_callbacks(cfg: DictConfig) -> DictConfig:
    """(s)'s config: (a)'s without the progress bar, checkpoints, learning-rate monitor, early
    stop and logger, which `Trainer(barebones=True)` turns off for (f)."""
    cfg = copy.deepcopy(cfg)
    with open_dict(cfg):
        cfg.callbacks, cfg.logger = None, None
        cfg.trainer.enable_progress_bar = cfg.trainer.enable_checkpointing = False
    return cfg


def row(workload: str, times: dict[str, list[float]]) -> str:
    """A table row: each contender's median seconds per epoch, then the ratios."""
    seconds = [f"{statistics.median(times[n]):.3f}" if n in times else "" for n in "asbcf"]
    ratios = [
        f"{ratio(times, x, y):.2f}" if x in times and y in times else ""
        for x, y in (("a", "b"), ("a", "c"), ("a", "f"), ("s", "f"), ("f", "b"))
    ]
    return "| " + " | ".join([workload, *seconds, *ratios]) + " |"


def image_row(cell: str, rounds: int) -> str:
    cfg = config(
        "task=fashion_mnist",
        f"task.data_dir={FASHION}",
        f"model={cell}",
        "trainer.max_epochs=1",
        *QUIET,
    )
    contenders = {
        "a": seqnets_epoch(cfg),
        "s": seqnets_epoch(without_callbacks(cfg)),
        "b": bare_epoch(cfg, image_batches(cfg)),
        "c": reference_epoch(cell, cfg.model.hidden_size, cfg.optim.lr),
        "f": floor_epoch(cfg),
    }
    name = f"{cell.upper()}-128, Fashion-MNIST, batch {cfg.task.batch_size}"
    return row(name, alternate(contenders, rounds))


def recall_row(rounds: int) -> str:
    """An epoch is only 100 small steps, so each turn takes 5 epochs, and there are 5 times
    the rounds: a turn of about a second moves a lot with the machine's other load."""
    cfg = config("task=recall", "model=rnn", "model.hidden_size=5", "trainer.max_epochs=5", *QUIET)
    contenders = {
        "a": seqnets_epoch(cfg),
        "s": seqnets_epoch(without_callbacks(cfg)),
        "b": bare_epoch(cfg, drawn_batches(cfg)),
        "f": floor_epoch(cfg),
    }
    return row("recall, RNN-5, lengths 3-10", alternate(contenders, 5 * rounds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "RESULTS.md")
    args = parser.parse_args()
    lines = [
        "| workload | a: seqnets s/epoch | s: callbacks off | b: bare loop | c: DataLoader loop | "
        "f: Lightning floor | a/b | a/c | a/f | s/f | f/b |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for workload in ("recall", "lstm", "gru", "rnn"):
        lines.append(
            recall_row(args.rounds) if workload == "recall" else image_row(workload, args.rounds)
        )
        print(lines[-1], flush=True)
    rss = peak_rss_of_a_run()
    machine = f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
    header = [
        "# Benchmark results",
        "",
        f"{datetime.date.today()}, {machine}, torch {torch.__version__}, {args.rounds} "
        f"alternating rounds ({5 * args.rounds} for recall): seconds are medians, ratios the "
        "median of each round's own ratio; written by `make bench` (benchmarks/bench.py).",
        "",
    ]
    footer = ["", f"Peak resident memory of a one-epoch Fashion-MNIST LSTM run: {rss:.2f} GB"]
    args.out.write_text("\n".join(header + lines + footer) + "\n")
    print(footer[-1])


if __name__ == "__main__":
    main()
