"""Tasks whose data is drawn rather than read: fresh training batches every epoch (one
sequence length per batch) and validation and test sets fixed by the seed, one per length."""

from collections.abc import Callable, Iterator
from typing import Any

import torch
from matplotlib.figure import Figure
from torch.utils.data import DataLoader, IterableDataset

from seqnets.errors import UserError
from seqnets.plots import lines_figure
from seqnets.tasks.base import VAL_SIZE, Batch, SequenceTask, per_test_set, seeded_generator
from seqnets.validation import Rule, at_least

VAL, TEST = 1, 2  # offsets to the run's seed, so each fixed set has a stream of its own


class EpochBatches(IterableDataset):
    """Whole batches drawn fresh each epoch from `seeded_generator(seed, epoch)`. Under DDP
    every process draws the same stream and keeps every world-th batch, so the epoch's data
    is the single process's, whatever the number of processes."""

    def __init__(
        self,
        draw: Callable[[torch.Generator], Batch],
        num_batches: int,
        seed: int,
        epoch: Callable[[], int],
        shard: tuple[int, int] = (0, 1),
    ) -> None:
        self.draw, self.num_batches, self.seed, self.epoch = draw, num_batches, seed, epoch
        self.shard = shard

    def __len__(self) -> int:
        return self.num_batches // self.shard[1]

    def __iter__(self) -> Iterator[Batch]:
        rank, world = self.shard
        generator = seeded_generator(self.seed, self.epoch())
        for index in range(len(self) * world):
            batch = self.draw(generator)
            if index % world == rank:
                yield batch


class SyntheticTask(SequenceTask):
    """Everything but `draw` and the reports: subclasses say how one batch of one length is
    made, and which lengths are trained, validated and tested."""

    # The metrics.json key of the per-length result its figure shows, what that result is
    # called, and whether the lengths double from one test set to the next.
    by_length_key, by_length_name, doubling = "test_acc_by_len", "accuracy", False
    # Examples longer than this would not fit a line of predictions.txt (a 1024-bit sum).
    longest_example = 64
    rules = (
        *SequenceTask.rules,
        Rule("train_size", at_least(1), "an integer >= 1"),
        VAL_SIZE,
        Rule("test_size", at_least(1), "an integer >= 1"),
    )

    @classmethod
    def check(cls, task: Any) -> None:
        """A drawn task takes a count of validation sequences, not a share of files."""
        if isinstance(task.get("val_size"), float):
            raise UserError(
                f"task.val_size={task.val_size}: {task.get('name')} draws its validation sets, "
                "so it takes a number of sequences per length, an integer >= 1"
            )

    def __init__(
        self,
        name: str,
        input_size: int,
        num_classes: int,
        readout: str,
        train_lens: list[int],
        val_lens: list[int],
        test_lens: list[int],
        train_size: int,
        val_size: int,
        test_size: int,
        batch_size: int,
        eval_batch_size: int,
        seed: int,
        num_examples: int,
    ) -> None:
        super().__init__(
            name, input_size, num_classes, batch_size, eval_batch_size, readout, num_examples
        )
        self.train_lens, self.val_lens, self.test_lens = train_lens, val_lens, test_lens
        self.train_size, self.val_size, self.test_size = train_size, val_size, test_size
        self.seed = seed

    def draw(self, generator: torch.Generator, size: int, length: int) -> Batch:
        """`size` sequences of `length` steps with their targets."""
        raise NotImplementedError

    def fixed_set(self, offset: int, length: int, size: int) -> list[Batch]:
        """`size` sequences of one length, the same for every run with this seed."""
        x, y = self.draw(seeded_generator(self.seed + offset, length), size, length)
        return list(zip(x.split(self.eval_batch_size), y.split(self.eval_batch_size), strict=True))

    def draw_train(self, generator: torch.Generator) -> Batch:
        index = int(torch.randint(0, len(self.train_lens), (1,), generator=generator))
        return self.draw(generator, self.batch_size, self.train_lens[index])

    def train_dataloader(self) -> DataLoader:
        num_batches = -(-self.train_size // self.batch_size)
        batches = EpochBatches(
            self.draw_train, num_batches, self.seed, self.current_epoch, self.shard()
        )
        return DataLoader(batches, batch_size=None)

    def batches_loader(self, batches: list[Batch]) -> DataLoader:
        """Serve ready-made batches (of different sequence lengths, say) one by one; under DDP
        each process serves every world-th sequence of each, so none is left without data."""
        rank, world = self.shard()
        return DataLoader([(x[rank::world], y[rank::world]) for x, y in batches], batch_size=None)

    def val_dataloader(self) -> DataLoader:
        sets = [self.fixed_set(VAL, n, self.val_size) for n in self.val_lens]
        return self.batches_loader([batch for batches in sets for batch in batches])

    def test_dataloader(self) -> list[DataLoader]:
        return [
            self.batches_loader(self.fixed_set(TEST, n, self.test_size)) for n in self.test_lens
        ]

    def examples(self) -> list[Batch]:
        """The first few test sequences of every length that fits a line, the ones
        predictions.txt shows."""
        shown = [n for n in self.test_lens if n <= self.longest_example]
        firsts = [self.fixed_set(TEST, n, self.test_size)[0] for n in shown]
        return [(x[: self.num_examples], y[: self.num_examples]) for x, y in firsts]

    def inspection_set(self, count: int) -> Batch:
        """From the test set of the longest trained length: what the network was made for."""
        batches = self.fixed_set(TEST, self.train_lens[-1], self.test_size)
        x, y = (torch.cat(parts)[:count] for parts in zip(*batches, strict=True))
        return x, y

    def predict_dataloader(self) -> DataLoader:
        return DataLoader(self.examples(), batch_size=None)  # whole on every process

    def format_predictions(self, preds: list[torch.Tensor], metrics: dict[str, Any]) -> str:
        """One line per example sequence, then the task's summary lines."""
        lines = [
            self.example_line(x, truth, p)
            for (xs, ys), pred in zip(self.examples(), preds, strict=True)
            for x, truth, p in zip(xs, ys, pred, strict=True)
        ]
        return "\n".join(lines + self.summary_lines(metrics)) + "\n"

    def example_line(self, x: torch.Tensor, truth: torch.Tensor, pred: torch.Tensor) -> str:
        """One example sequence, its target and the prediction, as a person reads them."""
        raise NotImplementedError

    def summary_lines(self, metrics: dict[str, Any]) -> list[str]:
        raise NotImplementedError

    def figures(self, preds: list[torch.Tensor], metrics: dict[str, Any]) -> dict[str, Figure]:
        """The test result against the sequence length, the trained lengths marked."""
        points = {int(n): value for n, value in metrics[self.by_length_key].items()}
        first, last = self.train_lens[0], self.train_lens[-1]
        span = str(first) if first == last else f"{first}-{last}"
        figure = lines_figure(
            f"Test {self.by_length_name} against length (trained on {span})",
            "length",
            self.by_length_name,
            {self.by_length_name: points},
            log2_x=self.doubling,
        )
        return {self.by_length_key.removeprefix("test_"): figure}

    def by_length(self, results: list[dict[str, float]]) -> dict[int, dict[str, float]]:
        """Lightning's test results keyed by the length of each test set."""
        return dict(zip(self.test_lens, per_test_set(results), strict=True))
