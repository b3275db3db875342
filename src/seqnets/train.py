"""The entry point: compose the config with Hydra, train, test, and leave the run's files."""

import json
import sys
import time
from pathlib import Path
from typing import Any

import hydra
import lightning as L
from hydra.utils import instantiate
from lightning.pytorch.loggers import Logger, TensorBoardLogger
from omegaconf import DictConfig, OmegaConf

from seqnets.classifier import SequenceClassifier
from seqnets.errors import find_user_error
from seqnets.tasks.base import SequenceTask
from seqnets.validation import validate

HPARAM_GROUPS = ("task", "model", "optim", "scheduler", "loss", "trainer", "seed")


def plain(node: Any) -> Any:
    """A resolved, primitive copy of a config node: safe to pickle into checkpoints."""
    return OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node


def build(cfg: DictConfig) -> tuple[SequenceTask, SequenceClassifier, L.Trainer]:
    """Instantiate the task, the module and the trainer with its callbacks and loggers."""
    task: SequenceTask = instantiate(cfg.task)
    module = SequenceClassifier(
        model=plain(cfg.model),
        optim=plain(cfg.optim),
        loss=plain(cfg.loss),
        scheduler=plain(cfg.scheduler) or None,
    )
    callbacks = [instantiate(c) for c in (cfg.callbacks or {}).values() if c is not None]
    loggers = [instantiate(c) for c in (cfg.logger or {}).values() if c is not None]
    trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)
    return task, module, trainer


def log_hparams(loggers: list[Logger], cfg: DictConfig, final: dict[str, float]) -> None:
    """Hyperparameters with the final metrics, so TensorBoard's HPARAMS tab compares a sweep."""
    params = {key: plain(cfg[key]) for key in HPARAM_GROUPS}
    for logger in loggers:
        if isinstance(logger, TensorBoardLogger):
            logger.log_hyperparams(params, final)
        else:
            logger.log_hyperparams(params)
            logger.log_metrics(final)
        logger.save()


def train(cfg: DictConfig) -> dict[str, Any]:
    """Run one experiment; return what it writes to metrics.json."""
    validate(cfg)
    L.seed_everything(cfg.seed, workers=True)
    out = Path(cfg.output_dir)
    task, module, trainer = build(cfg)
    started = time.perf_counter()
    trainer.fit(module, datamodule=task, ckpt_path=cfg.get("ckpt_path"))
    train_time = time.perf_counter() - started
    checkpoint = trainer.checkpoint_callback
    best = checkpoint.best_model_path if checkpoint else ""
    val_acc = checkpoint.best_model_score if best else trainer.callback_metrics.get("val/acc")
    tested = trainer.test(module, datamodule=task, ckpt_path=best or None, verbose=False)
    net = module.hparams.model
    metrics = {
        "task": task.name,
        "model": ("bi" if net["bidirectional"] else "") + net["cell"],
        "hidden_size": net["hidden_size"],
        "num_layers": net["num_layers"],
        "bidirectional": net["bidirectional"],
        "num_params": sum(p.numel() for p in module.net.parameters()),
        "epochs": trainer.current_epoch,
        "seed": cfg.seed,
        **task.test_metrics(tested),
        "test_samples": module.test_samples,
        "val_acc": None if val_acc is None else float(val_acc),
        "train_time_s": train_time,
        "sec_per_epoch": sum(module.epoch_seconds) / max(len(module.epoch_seconds), 1),
        "best_checkpoint": best,
        "status": "completed",
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    preds = trainer.predict(module, datamodule=task)
    report = task.format_predictions(preds, metrics)
    (out / "predictions.txt").write_text(report)
    print(report, end="")
    final = {"hp/test_acc": metrics["test_acc"], "hp/val_acc": metrics["val_acc"] or 0.0}
    log_hparams(trainer.loggers, cfg, final)
    return metrics


@hydra.main(version_base="1.3", config_path="../../conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    """Hydra's entry: returns the best validation accuracy for sweepers that optimise it."""
    try:
        return train(cfg)["val_acc"]
    except Exception as err:
        cause = find_user_error(err)
        if cause is None:
            raise
        print(f"seqnets: error: {cause}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
