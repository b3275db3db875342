"""What every task shares: its shape facts for the model, and fast whole-batch loaders."""

from typing import Any, Literal

import lightning as L
import torch
from torch.utils.data import (
    BatchSampler,
    DataLoader,
    RandomSampler,
    SequentialSampler,
    TensorDataset,
)


def batch_loader(tensors: tuple[torch.Tensor, ...], batch_size: int, shuffle: bool) -> DataLoader:
    """Cut batches from tensors already in memory with one gather each, no per-sample collate."""
    dataset = TensorDataset(*tensors)
    order = RandomSampler(dataset) if shuffle else SequentialSampler(dataset)
    return DataLoader(
        dataset, sampler=BatchSampler(order, batch_size, drop_last=False), batch_size=None
    )


class SequenceTask(L.LightningDataModule):
    """A data module that also tells the model its input size, its classes and where the head reads.

    `head` is "last" for one label per sequence and "every" for one label per time step.
    """

    def __init__(
        self,
        name: str,
        input_size: int,
        num_classes: int,
        batch_size: int,
        eval_batch_size: int,
        head: Literal["last", "every"] = "last",
        num_examples: int = 10,
    ) -> None:
        super().__init__()
        self.name = name
        self.input_size = input_size
        self.num_classes = num_classes
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.head = head
        self.num_examples = num_examples

    def format_predictions(self, preds: torch.Tensor, metrics: dict[str, Any]) -> str:
        """Human-readable report of the example predictions and the test result."""
        raise NotImplementedError
