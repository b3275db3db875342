"""The LightningModule for all tasks: a RecurrentNet with the configured loss and optimizer."""

import time
from typing import Any

import lightning as L
import torch
from hydra.utils import instantiate
from torch import nn
from torchmetrics.classification import MulticlassAccuracy

STAGES = ("train", "val", "test")
Batch = tuple[torch.Tensor, torch.Tensor]


class SequenceClassifier(L.LightningModule):
    """Classifies whole sequences or every step of them; takes plain dicts so checkpoints stay
    loadable with `torch.load(weights_only=True)`."""

    def __init__(
        self,
        model: dict[str, Any],
        optim: dict[str, Any],
        loss: dict[str, Any],
        scheduler: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(logger=False)
        self.net: nn.Module = instantiate(model)
        self.criterion: nn.Module = instantiate(loss)
        self.epoch_seconds: list[float] = []
        num_classes = model["num_classes"]
        self.acc = nn.ModuleDict(
            {f"{stage}_acc": MulticlassAccuracy(num_classes, average="micro") for stage in STAGES}
        )

    def on_train_epoch_start(self) -> None:
        self.epoch_started = time.perf_counter()

    def on_train_epoch_end(self) -> None:
        """Seconds per epoch (validation included), logged and kept for metrics.json."""
        seconds = time.perf_counter() - self.epoch_started
        self.epoch_seconds.append(seconds)
        self.log("time/sec_per_epoch", seconds, on_step=False, on_epoch=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def l2_penalty(self) -> torch.Tensor:
        """Sum of squared weights (biases excluded), the explicit L2 term of the reference."""
        return sum(p.pow(2).sum() for name, p in self.net.named_parameters() if "weight" in name)

    def _step(self, batch: Batch, stage: str) -> torch.Tensor:
        x, y = batch
        logits = self.net(x)
        logits, y = logits.reshape(-1, logits.shape[-1]), y.reshape(-1)
        loss = self.criterion(logits, y)
        acc = self.acc[f"{stage}_acc"]
        acc(logits, y)
        # Lightning's defaults: per step while training, per epoch in validation and test.
        self.log(f"{stage}/loss", loss, prog_bar=True)
        self.log(f"{stage}/acc", acc, prog_bar=True)
        return loss

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        loss = self._step(batch, "train")
        lam = self.hparams.optim.get("l2_penalty", 0.0)
        if lam:
            penalty = self.l2_penalty()
            self.log("train/l2_penalty", penalty)
            loss = loss + lam * penalty
        return loss

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        self._step(batch, "val")

    def on_test_epoch_start(self) -> None:
        self.test_samples = 0

    def test_step(self, batch: Batch, batch_idx: int) -> None:
        self._step(batch, "test")
        self.test_samples += len(batch[1])

    def predict_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        return self.net(batch[0]).argmax(-1)

    def configure_optimizers(self) -> Any:
        settings = {k: v for k, v in self.hparams.optim.items() if k != "l2_penalty"}
        optimizer = instantiate(settings, params=self.parameters())
        if not self.hparams.scheduler:
            return optimizer
        return {
            "optimizer": optimizer,
            "lr_scheduler": instantiate(self.hparams.scheduler, optimizer=optimizer),
        }
