"""The entry point: compose the config with Hydra, train, test, and leave the run's files."""

import logging
import sys
import time
from pathlib import Path
from typing import Any, NoReturn

import hydra
import lightning as L
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from lightning.pytorch.loggers import Logger, TensorBoardLogger
from matplotlib.figure import Figure
from omegaconf import DictConfig

from seqnets.classifier import SequenceClassifier
from seqnets.console import quiet_libraries
from seqnets.errors import Diverged, find_user_error, one_line_errors
from seqnets.inspect import inspect_network
from seqnets.logs import read_curves
from seqnets.plots import curves_figure, save_figures
from seqnets.runs import (
    build,
    hparams,
    objective,
    read_checkpoint,
    resumed,
    run_identity,
    test_checkpoint,
    write_metrics,
)
from seqnets.sweep import register_search, share_cores
from seqnets.tasks.base import SequenceTask
from seqnets.validation import validate

log = logging.getLogger(__name__)
quiet_libraries()
register_search()


def log_hparams(loggers: list[Logger], cfg: DictConfig, final: dict[str, float]) -> None:
    """Hyperparameters with the task's headline metrics, so TensorBoard's HPARAMS tab compares
    a sweep."""
    for logger in loggers:
        if isinstance(logger, TensorBoardLogger):
            logger.log_hyperparams(hparams(cfg), final)
        else:
            logger.log_hyperparams(hparams(cfg))
            logger.log_metrics(final)
        logger.save()


def fit_and_test(
    cfg: DictConfig, out: Path, trainer: L.Trainer, task: SequenceTask, module: SequenceClassifier
) -> dict[str, Any]:
    """Fit, test the best checkpoint, and leave metrics.json, predictions.txt and hparams."""
    started = time.perf_counter()
    trainer.fit(module, datamodule=task, ckpt_path=cfg.get("ckpt_path"))
    train_time = time.perf_counter() - started
    checkpoint = trainer.checkpoint_callback
    best = checkpoint.best_model_path if checkpoint else ""
    selected = {checkpoint.monitor: float(checkpoint.best_model_score)} if best else {}
    # The best val/acc when it chose the checkpoint, else (say, by val/loss) the last epoch's.
    val_acc = selected.get("val/acc", trainer.callback_metrics.get("val/acc"))
    metrics = {
        **run_identity(cfg),
        "num_params": sum(p.numel() for p in module.net.parameters()),
        "epochs": trainer.current_epoch,
        **test_checkpoint(trainer, task, module, best or None),
        "val_acc": None if val_acc is None else float(val_acc),
        "train_time_s": train_time,
        "sec_per_epoch": sum(module.epoch_seconds) / max(len(module.epoch_seconds), 1),
        "best_checkpoint": best,
        "selected_by": selected,
        "status": "completed",
    }
    # Under DDP every process gets here with the same synced metrics; the first one writes.
    if trainer.is_global_zero:
        write_metrics(out, metrics)
    preds = trainer.predict(module, datamodule=task)
    final = {f"hp/{key}": metrics[key] for key in task.headline}
    log_hparams(trainer.loggers, cfg, final)
    if trainer.is_global_zero:
        report = task.format_predictions(preds, metrics)
        (out / "predictions.txt").write_text(report)
        print(report, end="")
        figures = {**task.figures(preds, metrics), **inspected(out, task, module, cfg)}
        draw_figures(out, trainer.loggers, metrics["model"], figures)
    return metrics


def inspected(
    out: Path, task: SequenceTask, module: SequenceClassifier, cfg: DictConfig
) -> dict[str, Figure]:
    """What the tested network does on `inspect_examples` test examples (seqnets.inspect's
    figures, its numbers in inspection.json); none when that is 0."""
    count = cfg.get("inspect_examples", 0)
    if not count:
        return {}
    figures, summary = inspect_network(module.net, task, count)
    write_metrics(out, summary, name="inspection.json")
    return figures


def draw_figures(out: Path, loggers: list[Logger], label: str, figures: dict) -> None:
    """figures/: the task's own, and the training curves read back from the run's log (a run
    without a logger has none)."""
    curves = read_curves(out)
    if curves:
        figures = {"curves": curves_figure({label: curves}), **figures}
    writers = [logger.experiment for logger in loggers if isinstance(logger, TensorBoardLogger)]
    save_figures(out / "figures", figures, writers)
    for logger in loggers:
        logger.save()


def interrupted(err: BaseException, trainer: L.Trainer | None) -> bool:
    """Ctrl-C or SIGTERM: Lightning turns both into SystemExit once it has stopped."""
    if isinstance(err, KeyboardInterrupt):
        return True
    return isinstance(err, SystemExit) and trainer is not None and trainer.interrupted


def stop_interrupted(cfg: DictConfig, out: Path, trainer: L.Trainer | None) -> NoReturn:
    """Keep what the run has (weights as they are, the command that resumes it) and exit."""
    if trainer is not None and trainer.lightning_module is not None:
        trainer.save_checkpoint(out / "checkpoints" / "interrupted.ckpt")
    if (out / "checkpoints" / "last.ckpt").is_file():
        hint = f"resume with: python -m seqnets.train resume={out}"
    else:
        hint = "no epoch had finished, so there is nothing to resume: run it again"
    write_metrics(out, {**run_identity(cfg), "status": "interrupted", "resume": hint})
    print(f"seqnets: interrupted; {hint}", file=sys.stderr)
    raise SystemExit(130)


def train(cfg: DictConfig) -> dict[str, Any]:
    """Run one experiment; return what it writes to metrics.json.

    However it ends, metrics.json says how: completed, failed, diverged or interrupted
    (with a checkpoint to look at and the command that resumes it).
    """
    out = Path(cfg.output_dir)
    trainer = None
    try:
        validate(cfg)
        share_cores(cfg.get("threads"), cfg.model.hidden_size)
        start = read_checkpoint(cfg.ckpt_path).get("global_step") if cfg.get("ckpt_path") else None
        L.seed_everything(cfg.seed, workers=True)
        task, module, trainer = build(cfg, purge_step=start)
        return fit_and_test(cfg, out, trainer, task, module)
    except BaseException as err:
        if interrupted(err, trainer):
            stop_interrupted(cfg, out, trainer)
        cause = find_user_error(err)
        status = "diverged" if isinstance(cause, Diverged) else "failed"
        message = str(cause) if cause else f"{type(err).__name__}: {err}"
        write_metrics(out, {**run_identity(cfg), "status": status, "error": message})
        raise


@hydra.main(version_base="1.3", config_path="pkg://seqnets.conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    """Hydra's entry: returns the run's objective (seqnets.runs) for the sweepers that optimise
    it; conf/hydra/sweeper/search.yaml takes the direction from the checkpoint's mode.

    In a multirun a failed job is logged and recorded, returns no score, and the sweep goes
    on; its summary (seqnets.sweep) lists the failures. None rather than NaN: Optuna's sweeper
    records None as a failed trial, while NaN stops the whole search (hydra-optuna-sweeper
    1.3.0 tells Optuna of the failure with the NaN still attached, which Optuna refuses).
    """
    with one_line_errors():
        try:
            if cfg.get("resume"):
                cfg = resumed(cfg, list(HydraConfig.get().overrides.task))
            return objective(train(cfg))
        except Exception as err:
            if HydraConfig.get().mode != RunMode.MULTIRUN:
                raise
            cause = find_user_error(err)
            log.error("job failed: %s", cause or err, exc_info=cause is None)
            return None


if __name__ == "__main__":
    main()
