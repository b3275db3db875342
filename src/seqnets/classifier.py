"""The LightningModule for all tasks: a RecurrentNet with the configured loss (and its
explicit L2 term) and optimizer."""

import logging
import time
from typing import Any

import lightning as L
import torch
from hydra.utils import instantiate
from lightning.pytorch.plugins.precision import MixedPrecision
from lightning.pytorch.trainer.states import TrainerFn
from torch import nn
from torchmetrics import MetricCollection
from torchmetrics.classification import MulticlassAccuracy, MulticlassExactMatch

from seqnets.errors import Diverged
from seqnets.tasks.base import Batch

log = logging.getLogger(__name__)


class SequenceClassifier(L.LightningModule):
    """Classifies whole sequences or every step of them; takes plain dicts so checkpoints stay
    loadable with `torch.load(weights_only=True)`.

    Per-step heads also report exact match, the share of sequences with every step right.
    """

    def __init__(
        self,
        model: dict[str, Any],
        optim: dict[str, Any],
        loss: dict[str, Any],
        scheduler: dict[str, Any] | None,
        l2_penalty: float,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(logger=False)
        self.net: nn.Module = instantiate(model)
        self.criterion: nn.Module = instantiate(loss)
        self.train_metrics = self.make_metrics("train")
        self.val_metrics = self.make_metrics("val")
        self.test_metrics = nn.ModuleList()
        self.epoch_seconds: list[float] = []
        self.test_samples = 0

    def make_metrics(self, stage: str) -> MetricCollection:
        num_classes = self.hparams.model["num_classes"]
        metrics = {"acc": MulticlassAccuracy(num_classes, average="micro")}
        if self.hparams.model.get("readout") == "every":
            metrics["exact"] = MulticlassExactMatch(num_classes)
        return MetricCollection(metrics, prefix=f"{stage}/")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits with classes in dim 1, as torch's losses and torchmetrics take them."""
        logits = self.net(x)
        return logits.transpose(1, 2) if logits.dim() == 3 else logits

    def l2_penalty(self) -> torch.Tensor:
        """Sum of squared weights (biases excluded), the explicit L2 term of the reference."""
        return sum(p.pow(2).sum() for name, p in self.net.named_parameters() if "weight" in name)

    def _step(
        self, batch: Batch, stage: str, metrics: MetricCollection, log: bool = True
    ) -> torch.Tensor:
        x, y = batch
        logits = self(x)
        loss = self.criterion(logits, y)
        if log:
            metrics(logits, y)
            # Lightning's defaults: per step while training, per epoch in validation and test,
            # where under DDP the processes' losses are averaged (torchmetrics syncs itself).
            sync = stage != "train"
            self.log(f"{stage}/loss", loss, prog_bar=True, batch_size=len(y), sync_dist=sync)
            self.log_dict(metrics, prog_bar=True, batch_size=len(y))
        return loss

    def logs_this_step(self) -> bool:
        """Whether the logger writes this training step: the only steps worth the cost of
        metrics and `self.log`, which outweighs a tiny model's whole step."""
        if self._trainer is None:
            return True
        every = self.trainer.log_every_n_steps
        return every > 0 and (self.global_step + 1) % every == 0

    def ends_epoch(self, batch_idx: int) -> bool:
        return self._trainer is not None and batch_idx + 1 == self.trainer.num_training_batches

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        """Reading the loss makes the host wait for a GPU, so divergence is looked for only on
        the steps the logger reads it anyway and at each epoch's end, before validation and
        the checkpoints see the weights: a NaN, which stays, is caught within one interval."""
        logs = self.logs_this_step()
        loss = self._step(batch, "train", self.train_metrics, log=logs)
        if (logs or self.ends_epoch(batch_idx)) and not torch.isfinite(loss):
            raise Diverged(
                f"loss became {loss.item()} at epoch {self.current_epoch}, "
                f"step {self.global_step}; lower optim.lr or clip gradients "
                "(trainer.gradient_clip_val=1.0)"
            )
        if self.hparams.l2_penalty:
            penalty = self.l2_penalty()
            self.log("train/l2_penalty", penalty)
            loss = loss + self.hparams.l2_penalty * penalty
        return loss

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        self._step(batch, "val", self.val_metrics)

    def on_test_epoch_start(self) -> None:
        """One set of metrics per test set: a task may test several (one per length, say)."""
        loaders = self.trainer.test_dataloaders
        count = len(loaders) if isinstance(loaders, list | tuple) else 1
        self.test_metrics = nn.ModuleList(self.make_metrics("test") for _ in range(count))
        self.test_metrics.to(self.device)
        self.test_samples = 0

    def test_step(self, batch: Batch, batch_idx: int, dataloader_idx: int = 0) -> None:
        self._step(batch, "test", self.test_metrics[dataloader_idx])
        self.test_samples += len(batch[1])

    def predict_step(self, batch: Batch, batch_idx: int, dataloader_idx: int = 0) -> torch.Tensor:
        return self(batch[0]).argmax(1)

    def on_train_epoch_start(self) -> None:
        self.epoch_started = time.perf_counter()

    def on_train_epoch_end(self) -> None:
        """Seconds per epoch (validation included), logged and kept for metrics.json."""
        seconds = time.perf_counter() - self.epoch_started
        self.epoch_seconds.append(seconds)
        self.log("time/sec_per_epoch", seconds, on_step=False, on_epoch=True)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Keep torch's random state (dropout masks) and the epoch times, so a resumed run
        draws what the uninterrupted one would have and reports the whole run's timing; and
        write out what the loggers hold, so a run killed after this checkpoint has every step
        up to it on disk (a resumed run logs only the steps after it)."""
        for logger in self.trainer.loggers:
            logger.save()
        checkpoint["torch_rng_state"] = torch.get_rng_state()
        if torch.cuda.is_available():
            checkpoint["cuda_rng_states"] = torch.cuda.get_rng_state_all()
        checkpoint["epoch_seconds"] = list(self.epoch_seconds)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Restore them only when training resumes: loading weights to test or predict must
        leave the caller's random state alone."""
        if self._trainer is None or self.trainer.state.fn != TrainerFn.FITTING:
            return
        self.epoch_seconds = list(checkpoint.get("epoch_seconds", []))
        if "torch_rng_state" in checkpoint:
            torch.set_rng_state(checkpoint["torch_rng_state"])
        if "cuda_rng_states" in checkpoint and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(checkpoint["cuda_rng_states"])

    def clips_mixed_precision(self) -> bool:
        """Lightning clips mixed-precision gradients (16 or bf16) only for an optimizer that
        leaves them to it, which a fused one does not."""
        trainer = self._trainer
        return bool(trainer and trainer.gradient_clip_val) and isinstance(
            trainer.precision_plugin, MixedPrecision
        )

    def configure_optimizers(self) -> Any:
        settings = dict(self.hparams.optim)
        if settings.get("fused") and self.clips_mixed_precision():
            log.info("optim.fused=false: gradients are clipped under mixed precision")
            settings["fused"] = False
        optimizer = instantiate(settings, params=self.parameters())
        if not self.hparams.scheduler:
            return optimizer
        return {
            "optimizer": optimizer,
            "lr_scheduler": instantiate(self.hparams.scheduler, optimizer=optimizer),
        }
