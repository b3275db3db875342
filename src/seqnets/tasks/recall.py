"""Recall the digit at position K of a random digit sequence: the memory test of the reference."""

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from matplotlib.figure import Figure

from seqnets.errors import UserError
from seqnets.plots import lines_figure, mean_points
from seqnets.tasks.base import Batch
from seqnets.tasks.synthetic import SyntheticTask
from seqnets.validation import Rule, at_least, lengths

if TYPE_CHECKING:
    from seqnets.report import Run

DIGITS = 10
# The assignment's recall of the digit at position 2 by a vanilla RNN, by hidden size.
RECALL_REFERENCE = {2: 0.16, 5: 0.30, 10: 0.96}


def draw_recall(
    generator: torch.Generator, batch_size: int, length: int, k: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One batch of `length` one-hot digits; the target is the digit at 1-based position k."""
    digits = torch.randint(0, DIGITS, (batch_size, length), generator=generator)
    return F.one_hot(digits, DIGITS).float(), digits[:, k - 1], digits


class Recall(SyntheticTask):
    """Random digit sequences of min_len..max_len, fresh every epoch.

    The test set holds `test_size` sequences of every trained length, plus
    `extra_test_lens` to show how memory carries beyond the lengths seen in training.
    """

    rules = (
        *SyntheticTask.rules,
        Rule("k", at_least(1), "an integer >= 1"),
        Rule("min_len", at_least(1), "an integer >= 1"),
        Rule("max_len", at_least(1), "an integer >= 1"),
        Rule("extra_test_lens", lengths, "a list of distinct integers >= 1"),
    )

    @classmethod
    def check(cls, task: Any) -> None:
        """k <= min_len <= max_len, and every extra test length >= k."""
        super().check(task)
        if task.min_len > task.max_len:
            raise UserError(
                f"task.min_len={task.min_len} > task.max_len={task.max_len}: "
                "need min_len <= max_len"
            )
        if task.k > task.min_len:
            raise UserError(f"task.k={task.k}: must be between 1 and task.min_len={task.min_len}")
        if any(n < task.k for n in task.get("extra_test_lens", [])):
            raise UserError(
                f"task.extra_test_lens={list(task.extra_test_lens)}: every length must be "
                f">= task.k={task.k}"
            )

    def __init__(
        self,
        k: int,
        min_len: int,
        max_len: int,
        extra_test_lens: list[int] | tuple[int, ...],
        **common: Any,
    ) -> None:
        """`common`: SyntheticTask's sizes, seed and shape keys, as conf/task/recall.yaml sets
        them."""
        trained = list(range(min_len, max_len + 1))
        self.extra_lens = [n for n in extra_test_lens if n not in trained]
        super().__init__(
            readout="last",
            train_lens=trained,
            val_lens=trained,
            test_lens=trained + self.extra_lens,
            **common,
        )
        self.k = k

    def draw(self, generator: torch.Generator, size: int, length: int) -> Batch:
        x, y, _ = draw_recall(generator, size, length, self.k)
        return x, y

    def test_scores(self, results: list[dict[str, float]]) -> dict[str, Any]:
        """Accuracy over the trained lengths, over the extra lengths apart, and per length."""
        by_len = {n: r["acc"] for n, r in self.by_length(results).items()}
        trained = [by_len[n] for n in self.train_lens]
        extra = [by_len[n] for n in self.extra_lens]
        return {
            "test_acc": sum(trained) / len(trained),
            "test_acc_extra": sum(extra) / len(extra) if extra else None,
            "test_acc_by_len": {str(n): acc for n, acc in by_len.items()},
            "k": self.k,
        }

    def example_line(self, x: torch.Tensor, truth: torch.Tensor, pred: torch.Tensor) -> str:
        array = " ".join(str(int(d)) for d in x.argmax(-1))
        guess = f"Prediction at position {self.k}: {int(pred)}  (true {int(truth)})"
        return f"Array: [{array}]  {guess}"

    def summary_lines(self, metrics: dict[str, Any]) -> list[str]:
        trained = f"{self.train_lens[0]}-{self.train_lens[-1]}"
        return [
            f"Test accuracy at length {n}: {100 * acc:.2f} %"
            for n, acc in metrics["test_acc_by_len"].items()
        ] + [f"Test accuracy over lengths {trained}: {100 * metrics['test_acc']:.2f} %"]

    def encode(self, text: str) -> torch.Tensor:
        digits = text.split()
        if not digits or not all(len(d) == 1 and d.isdigit() for d in digits):
            raise UserError(
                f'input={text!r}: expected digits 0-9 separated by spaces, e.g. "4 9 9"'
            )
        if len(digits) < self.k:
            raise UserError(
                f"input={text!r}: {len(digits)} digit(s), but this model recalls position "
                f"k={self.k}"
            )
        return F.one_hot(torch.tensor([[int(d) for d in digits]]), DIGITS).float()

    def explain(self, probs: torch.Tensor) -> str:
        return f"Prediction at position {self.k}: {int(probs[0].argmax())}"

    @classmethod
    def reference(cls, run: "Run") -> float | None:
        """The assignment's vanilla RNN recalling position 2, at its hidden sizes."""
        if run.metrics["model"] == "rnn" and run.cfg.task.k == 2:
            return RECALL_REFERENCE.get(run.metrics["hidden_size"])
        return None

    @classmethod
    def report_figures(
        cls, task: str, done: list["Run"], label: Callable[["Run"], str]
    ) -> dict[str, Figure]:
        """Accuracy against hidden size per cell (mean over seeds), the reference beside it."""
        by_hidden = mean_points(
            (r.metrics["model"], r.metrics["hidden_size"], r.metrics["test_acc"])
            for r in done
            if r.metrics.get("test_acc") is not None
        )
        repeats = any(run.reference() is not None for run in done)
        reference = {"reference rnn": RECALL_REFERENCE} if repeats else None
        figure = lines_figure(
            f"{task}: accuracy against hidden size", "hidden size", "accuracy", by_hidden, reference
        )
        return {f"{task}_by_hidden": figure}
