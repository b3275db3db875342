"""Add two binary numbers, least significant bit first, one sum bit per time step."""

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
from matplotlib.figure import Figure

from seqnets.errors import UserError
from seqnets.plots import Series, lines_figure, mean_points
from seqnets.tasks.base import Batch
from seqnets.tasks.synthetic import SyntheticTask
from seqnets.validation import Rule, at_least, lengths, one_of

if TYPE_CHECKING:
    from seqnets.report import Run


def draw_sums(generator: torch.Generator, batch_size: int, bits: int) -> Batch:
    """Inputs (batch, bits + 1, 2) holding the bits (a_i, b_i), LSB first, then a step of zeros
    for the final carry; targets (batch, bits + 1), the bits of a + b."""
    operands = torch.randint(0, 2, (batch_size, bits + 1, 2), generator=generator)
    operands[:, -1] = 0
    return operands.float(), (operands.sum(-1) + carries_in(operands)) % 2


def carries_in(operands: torch.Tensor) -> torch.Tensor:
    """The carry into each column (batch, steps) of the bits (batch, steps, 2), LSB first."""
    total = operands.long().sum(-1)
    carry = torch.zeros(len(total), dtype=total.dtype)
    columns = []
    for i in range(total.shape[1]):
        columns.append(carry)
        carry = (total[:, i] + carry) // 2
    return torch.stack(columns, 1)


def carries_out(operands: torch.Tensor) -> torch.Tensor:
    """The carry out of each column: what the state must hold after reading it."""
    return (operands.long().sum(-1) + carries_in(operands)) // 2


def to_text(bits: torch.Tensor) -> str:
    """LSB-first bits as a number written the human way, most significant bit first."""
    return "".join(str(int(b)) for b in bits.flip(0))


class Adder(SyntheticTask):
    """Binary addition: trained on `bits`-bit sums (or random lengths up to `bits`), tested on
    every length of `test_bits` to show whether the carry rule was learned or memorised.

    Fixed-length training is the default: with random lengths a vanilla RNN of hidden 4 got
    stuck (never carrying after a 0+0 column) for 1 seed in 5, with fixed length for none.
    """

    by_length_key, by_length_name, doubling = "test_exact_by_bits", "exact match", True
    headline = ("test_acc", "test_exact")
    rules = (
        *SyntheticTask.rules,
        Rule("bits", at_least(1), "an integer >= 1"),
        Rule(
            "test_bits",
            lambda v: lengths(v) and len(v) > 0,
            "a non-empty list of distinct integers >= 1",
        ),
        Rule("random_lengths", one_of(True, False), "true or false"),
    )

    def __init__(
        self, bits: int, random_lengths: bool, test_bits: list[int] | tuple[int, ...], **common: Any
    ) -> None:
        """`common`: SyntheticTask's sizes, seed and shape keys, as conf/task/adder.yaml sets
        them."""
        trained = list(range(1, bits + 1)) if random_lengths else [bits]
        super().__init__(train_lens=trained, val_lens=[bits], test_lens=list(test_bits), **common)
        self.bits = bits

    def draw(self, generator: torch.Generator, size: int, length: int) -> Batch:
        return draw_sums(generator, size, length)

    def test_scores(self, results: list[dict[str, float]]) -> dict[str, Any]:
        """Bit accuracy and exact match, averaged over the test lengths and per length."""
        sets = self.by_length(results)
        return {
            "test_acc": sum(r["acc"] for r in sets.values()) / len(sets),
            "test_exact": sum(r["exact"] for r in sets.values()) / len(sets),
            "test_acc_by_bits": {str(n): r["acc"] for n, r in sets.items()},
            "test_exact_by_bits": {str(n): r["exact"] for n, r in sets.items()},
            "bits": self.bits,
        }

    def example_line(self, x: torch.Tensor, truth: torch.Tensor, pred: torch.Tensor) -> str:
        operands = x.long()
        a, b = to_text(operands[:-1, 0]), to_text(operands[:-1, 1])
        verdict = "ok" if torch.equal(truth, pred) else "WRONG"
        return f"{a} + {b} = {to_text(truth)}   predicted {to_text(pred)}  {verdict}"

    def summary_lines(self, metrics: dict[str, Any]) -> list[str]:
        return [
            f"Exact match at {n} bits: {100 * exact:.2f} %"
            for n, exact in metrics["test_exact_by_bits"].items()
        ]

    def encode(self, text: str) -> torch.Tensor:
        match = re.fullmatch(r"\s*([01]+)\s*\+\s*([01]+)\s*", text)
        if match is None:
            raise UserError(
                f"input={text!r}: expected two binary numbers joined by +, e.g. 1011+0110"
            )
        width = max(len(match[1]), len(match[2]))
        a, b = (bits.zfill(width)[::-1] for bits in match.groups())
        steps = [[int(x), int(y)] for x, y in zip(a, b, strict=True)] + [[0, 0]]
        return torch.tensor([steps], dtype=torch.float32)

    def explain(self, probs: torch.Tensor) -> str:
        return to_text(probs[0].argmax(0))

    @classmethod
    def report_figures(
        cls, task: str, done: list["Run"], label: Callable[["Run"], str]
    ) -> dict[str, Figure]:
        """Exact match against length per run, and against hidden size per cell and loss."""
        lengths: Series = {}
        for run in done:
            name = f"{run.loss} hidden {run.metrics['hidden_size']}"
            lengths[name] = {int(n): v for n, v in run.metrics["test_exact_by_bits"].items()}
        by_hidden = mean_points(
            (f"{r.metrics['model']} {r.loss}", r.metrics["hidden_size"], r.metrics["test_exact"])
            for r in done
            if r.metrics.get("test_exact") is not None
        )
        return {
            f"{task}_exact_by_length": lines_figure(
                f"{task}: exact match against length", "bits", "exact match", lengths, log2_x=True
            ),
            f"{task}_by_hidden": lines_figure(
                f"{task}: exact match against hidden size", "hidden size", "exact match", by_hidden
            ),
        }
