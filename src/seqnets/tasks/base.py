"""What every task shares: its shape facts for the model, fast batch loaders, test-set reports,
and its figures in a report of several runs."""

import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import lightning as L
import torch
from matplotlib.figure import Figure
from torch.utils.data import BatchSampler, DataLoader, Sampler, TensorDataset

from seqnets.errors import UserError
from seqnets.plots import bars_figure
from seqnets.validation import Rule, at_least

if TYPE_CHECKING:
    from seqnets.report import Run

Batch = tuple[torch.Tensor, torch.Tensor]
# Image and drawn tasks alike hold out a validation set; only an image task can take a share.
VAL_SIZE = Rule(
    "val_size",
    lambda v: at_least(1)(v) or (isinstance(v, float) and 0 < v < 1),
    "an integer >= 1, or a share in (0, 1) of an image task's training files",
)


def seeded_generator(seed: int, index: int) -> torch.Generator:
    """A random stream keyed by the run's seed and an index (an epoch, a sequence length):
    the same again in a resumed run, and independent of torch's global state."""
    return torch.Generator().manual_seed(seed * 1_000_003 + index)


class EpochShuffle(Sampler[int]):
    """A new order every epoch, drawn from `seeded_generator`. With several processes each
    takes every world-th index of the same order, cut to a multiple of the world size so
    that all take the same number of steps."""

    def __init__(
        self, size: int, seed: int, epoch: Callable[[], int], shard: tuple[int, int] = (0, 1)
    ) -> None:
        self.size, self.seed, self.epoch, self.shard = size, seed, epoch, shard

    def __len__(self) -> int:
        return self.size // self.shard[1]

    def __iter__(self) -> Iterator[int]:
        rank, world = self.shard
        order = torch.randperm(self.size, generator=seeded_generator(self.seed, self.epoch()))
        return iter(order[: len(self) * world][rank::world].tolist())


def batch_loader(
    tensors: tuple[torch.Tensor, ...], batch_size: int, order: Iterable[int]
) -> DataLoader:
    """Cut batches from tensors already in memory with one gather each, no per-sample collate."""
    batches = BatchSampler(order, batch_size, drop_last=False)
    return DataLoader(TensorDataset(*tensors), sampler=batches, batch_size=None)


def per_test_set(results: list[dict[str, float]]) -> list[dict[str, float]]:
    """Lightning's test results as one dict per test set, keyed `acc`, `loss`, `exact`."""
    return [
        {re.sub(r"^test/|/dataloader_idx_\d+$", "", key): value for key, value in result.items()}
        for result in results
    ]


class SequenceTask(L.LightningDataModule):
    """A data module that also tells the model its input size, its classes and its readout.

    `readout` is "last" for one label per sequence and "every" for one label per time step.
    `headline` names the metrics.json keys a sweep is compared by (TensorBoard's HPARAMS).
    """

    headline: tuple[str, ...] = ("test_acc",)
    # The rules of its parameters, checked under `task.` before a run starts; a subclass adds
    # its own, and `check` the rules between them.
    rules: tuple[Rule, ...] = (
        Rule("input_size", at_least(1), "an integer >= 1"),
        Rule("num_classes", at_least(2), "an integer >= 2"),
        Rule("batch_size", at_least(1), "an integer >= 1"),
        Rule("eval_batch_size", at_least(1), "an integer >= 1"),
        Rule("num_examples", at_least(1), "an integer >= 1"),
    )

    @classmethod
    def check(cls, task: Any) -> None:
        """Raise UserError for the first relation between the task's fields that fails, once
        each field has passed its own rule; a task has none unless it says so."""

    def __init__(
        self,
        name: str,
        input_size: int,
        num_classes: int,
        batch_size: int,
        eval_batch_size: int,
        readout: Literal["last", "every"] = "last",
        num_examples: int = 10,
    ) -> None:
        super().__init__()
        self.name = name
        self.input_size = input_size
        self.num_classes = num_classes
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.readout = readout
        self.num_examples = num_examples

    def current_epoch(self) -> int:
        return self.trainer.current_epoch if self.trainer is not None else 0

    def shard(self) -> tuple[int, int]:
        """(rank, world size): under DDP each process reads its own share of every split."""
        if self.trainer is None:
            return 0, 1
        return self.trainer.global_rank, self.trainer.world_size

    def test_scores(self, results: list[dict[str, float]]) -> dict[str, Any]:
        """metrics.json's test keys (`test_acc`, ...) from Lightning's results of one test set."""
        (only,) = per_test_set(results)
        return {f"test_{key}": value for key, value in only.items()}

    def format_predictions(self, preds: list[torch.Tensor], metrics: dict[str, Any]) -> str:
        """Human-readable report of the example predictions and the test result."""
        raise NotImplementedError

    def figures(self, preds: list[torch.Tensor], metrics: dict[str, Any]) -> dict[str, Figure]:
        """The task's own figures of its test results, by file name; the training curves are
        drawn for every task."""
        return {}

    def inspection_set(self, count: int) -> Batch:
        """The first `count` test examples, in the form the model reads them, for the figures of
        what a trained network does (`seqnets.inspect`); the data is set up already."""
        raise NotImplementedError

    def encode(self, text: str) -> torch.Tensor:
        """One input as a person writes it (`predict input=...`), as a batch of one sequence."""
        raise NotImplementedError

    def explain(self, probs: torch.Tensor) -> str:
        """What the class probabilities (classes in dim 1) for that input mean for this task."""
        raise NotImplementedError

    def save_input(self, path: Path) -> None:
        """Write the last encoded input as the model saw it; only image tasks have one."""
        raise UserError(f"save_input={path}: task {self.name} reads text, not an image")

    @classmethod
    def reference(cls, run: "Run") -> float | None:
        """The assignment's test accuracy for the experiment `run` repeats, if it repeats one
        (seqnets.report sets it beside the run); none by default."""
        return None

    @classmethod
    def report_figures(
        cls, task: str, done: list["Run"], label: Callable[["Run"], str]
    ) -> dict[str, Figure]:
        """The report's figures of this task's completed runs, by file name (the training
        curves are drawn for every task): by default each run's test accuracy and seconds per
        epoch side by side, the reference marked."""
        names = {label(run): run for run in done}
        panels = {
            "test accuracy": {n: r.metrics["test_acc"] for n, r in names.items()},
            "seconds per epoch": {n: r.metrics["sec_per_epoch"] for n, r in names.items()},
        }
        references = {n: r.reference() for n, r in names.items()}
        reference = {n: value for n, value in references.items() if value is not None}
        return {f"{task}_accuracy_time": bars_figure(task, panels, reference)}
