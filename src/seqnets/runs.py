"""Runs, for every command that makes or reads one: a run as metrics.json names it; its task,
module and trainer built from a config; a finished run folder as evaluate, predict, inspect,
report and resume read it (its config, metrics.json and checkpoints, each checked on the way in
so a damaged file stops the command with one line that names it); and its trained model."""

import io
import json
import os
from pathlib import Path
from typing import Any

import lightning as L
import torch
import yaml
from hydra.utils import instantiate
from lightning.pytorch.plugins import TorchCheckpointIO
from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict

from seqnets.classifier import SequenceClassifier
from seqnets.errors import UserError
from seqnets.tasks.base import SequenceTask
from seqnets.validation import target_class

# What train's composed config always holds: a file without them was cut short or is not one.
RUN_KEYS = ("task", "model", "optim", "loss", "trainer", "seed")
# What every checkpoint of a SequenceClassifier holds.
CHECKPOINT_KEYS = ("state_dict", "hyper_parameters")


def run_identity(cfg: DictConfig) -> dict[str, Any]:
    """What a run is, as metrics.json names it, known before it starts."""
    model = cfg.get("model") or {}
    return {
        "task": OmegaConf.select(cfg, "task.name"),
        "model": ("bi" if model.get("bidirectional") else "") + str(model.get("cell")),
        "hidden_size": model.get("hidden_size"),
        "num_layers": model.get("num_layers"),
        "bidirectional": model.get("bidirectional"),
        "seed": cfg.get("seed"),
        "precision": str(OmegaConf.select(cfg, "trainer.precision")),
    }


def task_class(cfg: DictConfig) -> type[SequenceTask]:
    """The class of a run's task (its `_target_`): what it reports and its reference results."""
    return target_class(cfg, "task") or SequenceTask


# Task keys that say how a run reads its data, not what the task asks: left out of hparams.
PLUMBING = {
    *("_target_", "name", "seed", "data_dir", "eval_batch_size", "num_examples", "readout"),
    *("input_size", "num_classes"),
}


def hparams(cfg: DictConfig) -> dict[str, Any]:
    """A run's hyperparameters as TensorBoard's HPARAMS tab compares them: flat, meaningful
    names (no `_target_`), the task's own settings (`k`, `bits`, ...) among them."""
    task = OmegaConf.to_container(cfg.task, resolve=True)
    own = {k: v for k, v in task.items() if k not in PLUMBING and isinstance(v, int | float | str)}
    return {
        **run_identity(cfg),
        "lr": cfg.optim.lr,
        "l2_penalty": cfg.l2_penalty,
        "weight_decay": cfg.optim.get("weight_decay", 0.0),
        "loss": cfg.loss._target_.rsplit(".", 1)[-1],
        "max_epochs": cfg.trainer.max_epochs,
        **own,
    }


def objective(metrics: dict[str, Any]) -> float | None:
    """The score a run's best checkpoint was chosen by (val/acc, or val/loss where the task's
    checkpoint monitors it): what a search optimises, since that checkpoint is the model the
    run keeps and tests. None for a run that chose none, which a search records as failed."""
    return next(iter(metrics.get("selected_by", {}).values()), None)


def read_yaml(path: Path) -> DictConfig | ListConfig:
    """A YAML file the run left; one that cannot be read or parsed is a UserError naming it."""
    try:
        return OmegaConf.load(path)
    except OSError as err:
        raise UserError(f"{path}: cannot read it ({err.strerror})") from err
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise UserError(f"{path}: damaged, not valid YAML ({type(err).__name__})") from err


def saved_config(run: Path, key: str) -> DictConfig:
    """The config train saved in run folder `run` (given as `key`=run), checked whole."""
    saved = run / ".hydra" / "config.yaml"
    if not saved.is_file():
        raise UserError(f"{key}={run}: not a run folder (no .hydra/config.yaml in it)")
    return whole_config(saved, read_yaml(saved))


# Classes that runs saved before today's names knew by another path.
RENAMED_TARGETS = {"seqnets.tasks.images.ImageRows": "seqnets.tasks.images.ImageSequences"}
# ...and the checkpoint keys of their state: today's class name, the old.
OLD_CLASS_NAMES = {new.rsplit(".")[-1]: old.rsplit(".")[-1] for old, new in RENAMED_TARGETS.items()}


def renamed(raw: dict[str, Any]) -> dict[str, Any]:
    """A run's config or module hyperparameters in today's names, so runs saved before the
    renames stay readable: `head` became `readout`, `optim.l2_penalty` the top-level key."""
    for part in (raw.get("task") or {}, raw.get("model") or {}):
        if "head" in part:
            part["readout"] = str(part.pop("head")).replace("task.head", "task.readout")
        if part.get("_target_") in RENAMED_TARGETS:
            part["_target_"] = RENAMED_TARGETS[part["_target_"]]
    if "l2_penalty" in (raw.get("optim") or {}):
        raw["l2_penalty"] = raw["optim"].pop("l2_penalty")
    return raw


def whole_config(saved: Path, cfg: DictConfig | ListConfig) -> DictConfig:
    """`cfg`, read from `saved`, in today's names (`renamed`), if it holds all a training run's
    config does: the one reader of a saved config for every command and the report."""
    missing = [k for k in RUN_KEYS if not isinstance(cfg, DictConfig) or k not in cfg]
    if missing:
        raise UserError(
            f"{saved}: damaged or cut short, not a run's config (no {', '.join(missing)})"
        )
    return OmegaConf.create(renamed(OmegaConf.to_container(cfg, resolve=False)))


def read_metrics(path: Path) -> dict[str, Any]:
    """A run's metrics.json; one that cannot be read or is not a JSON object is a UserError."""
    try:
        recorded = json.loads(path.read_bytes())
    except OSError as err:
        raise UserError(f"{path}: cannot read it ({err.strerror})") from err
    except ValueError as err:
        raise UserError(f"{path}: damaged, not valid JSON ({err})") from err
    if not isinstance(recorded, dict):
        raise UserError(f"{path}: damaged, not a JSON object of metrics")
    return recorded


def job_overrides(job: Path) -> list[str]:
    """The command line's overrides a run ran with, as Hydra saved them: a search's trial puts
    its parameters first."""
    return list(OmegaConf.load(job / ".hydra" / "overrides.yaml"))


def write_metrics(out: Path, metrics: dict[str, Any], name: str = "metrics.json") -> None:
    """Replace metrics.json (or another of the run's JSON files) in one step: a reader never
    sees half of it."""
    partial = out / f"{name}.partial"
    partial.write_text(json.dumps(metrics, indent=2) + "\n")
    partial.replace(out / name)


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The checkpoint at `path`, loaded safely onto the CPU. torch.load fails in many ways on a
    damaged file (OSError, EOFError, KeyError, UnpicklingError...), so any failure means that."""
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise UserError(f"{path}: cannot read it ({err.strerror})") from err
    if not data:
        raise UserError(f"{path}: empty file, not a checkpoint")
    try:
        saved = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as err:
        raise UserError(
            f"{path}: truncated or corrupt checkpoint, torch.load cannot read it"
        ) from err
    missing = [k for k in CHECKPOINT_KEYS if not isinstance(saved, dict) or k not in saved]
    if missing:
        raise UserError(f"{path}: not a seqnets checkpoint (no {', '.join(missing)} in it)")
    return saved


def run_config(run: Path) -> DictConfig:
    """The run's own composed config, quietened: no loggers or checkpoints of its own."""
    cfg = saved_config(run, "run")
    with open_dict(cfg):
        cfg.output_dir, cfg.logger = str(run), None
        cfg.callbacks = {"progress": cfg.callbacks.get("progress")} if cfg.callbacks else None
    return cfg


def run_checkpoint(run: Path, ckpt_path: str | None = None) -> tuple[str, dict[str, Any]]:
    """`ckpt_path` if given, else the run's best checkpoint, else its last; with its contents."""
    metrics = run / "metrics.json"
    recorded = read_metrics(metrics) if metrics.is_file() else {}
    checkpoint = (
        ckpt_path or recorded.get("best_checkpoint") or str(run / "checkpoints" / "last.ckpt")
    )
    if not Path(checkpoint).is_file():
        if ckpt_path:
            raise UserError(f"ckpt_path={checkpoint}: no such checkpoint")
        raise UserError(
            f"run={run}: no checkpoint to load ({checkpoint} is missing); "
            "give one with ckpt_path=..."
        )
    return checkpoint, read_checkpoint(checkpoint)


def trained_model(
    run: Path, ckpt_path: str | None = None
) -> tuple[SequenceTask, SequenceClassifier, str]:
    """The run's task (with the state its checkpoints keep, an image task's pixel scaling) and
    its model with the weights of `ckpt_path` or its best checkpoint, in eval mode; and the
    checkpoint's path."""
    task: SequenceTask = instantiate(run_config(run).task)
    checkpoint, saved = run_checkpoint(run, ckpt_path)
    name = type(task).__qualname__
    state = saved.get(name, saved.get(OLD_CLASS_NAMES.get(name, "")))
    if state is not None:
        task.load_state_dict(state)
    module = SequenceClassifier(**renamed(dict(saved["hyper_parameters"])))
    module.load_state_dict(saved["state_dict"])
    return task, module.eval(), checkpoint


def plain(node: Any) -> Any:
    """A resolved, primitive copy of a config node: safe to pickle into checkpoints."""
    return OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's saver, then one rename over the checkpoint: a kill while it writes leaves
    the previous checkpoint whole. (Lightning's own writes through a file in /tmp and, when
    that is another filesystem, copies it into place, where a kill leaves half a file.)"""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any = None
    ) -> None:
        target = Path(path)
        partial = target.with_name(f".{target.name}.partial")
        super().save_checkpoint(checkpoint, partial, storage_options)
        os.replace(partial, target)


def build_module(cfg: DictConfig) -> SequenceClassifier:
    """The module a run trains, from plain copies of its config's parts."""
    return SequenceClassifier(
        model=plain(cfg.model),
        optim=plain(cfg.optim),
        loss=plain(cfg.loss),
        scheduler=plain(cfg.scheduler) or None,
        l2_penalty=cfg.l2_penalty,
    )


def build(
    cfg: DictConfig, purge_step: int | None = None
) -> tuple[SequenceTask, SequenceClassifier, L.Trainer]:
    """Instantiate the task, the module and the trainer with its callbacks and loggers; a run
    that continues from step `purge_step` has its loggers replace what they hold from there."""
    task: SequenceTask = instantiate(cfg.task)
    module = build_module(cfg)
    callbacks = [instantiate(c) for c in (cfg.callbacks or {}).values() if c is not None]
    purge = {} if purge_step is None else {"purge_step": purge_step}
    loggers = [instantiate(c, **purge) for c in (cfg.logger or {}).values() if c is not None]
    trainer = instantiate(
        cfg.trainer, callbacks=callbacks, logger=loggers or False, plugins=[AtomicCheckpointIO()]
    )
    if trainer.strategy.root_device.type != "cuda":
        # Lightning has torch look for GPUs through NVML, and torch's optimizers look at every
        # step: on a machine without a GPU that loads the library each time (0.12 ms a step).
        # torch's plain check asks once.
        os.environ.pop("PYTORCH_NVML_BASED_CUDA_CHECK", None)
    return task, module, trainer


def test_checkpoint(
    trainer: L.Trainer, task: SequenceTask, module: SequenceClassifier, ckpt_path: str | None
) -> dict[str, Any]:
    """The task's test keys for metrics.json, from the weights in `ckpt_path` (or as they are)."""
    tested = trainer.test(module, datamodule=task, ckpt_path=ckpt_path, verbose=False)
    samples = trainer.strategy.reduce(torch.tensor(float(module.test_samples)), reduce_op="sum")
    return {**task.test_scores(tested), "test_samples": int(samples)}


def resumed(cfg: DictConfig, overrides: list[str]) -> DictConfig:
    """The config of the run in folder `cfg.resume`, set to continue from its last checkpoint;
    `overrides` are the command line's, which must say nothing else. Both files are checked
    here, before train() would record a failure in the run's metrics.json."""
    run = Path(cfg.resume)
    previous, last = saved_config(run, "resume"), run / "checkpoints" / "last.ckpt"
    if not last.is_file():
        raise UserError(
            f"resume={run}: no checkpoints/last.ckpt (it stopped before its first epoch "
            "ended); run it again instead"
        )
    others = [o for o in overrides if not o.startswith("resume=")]
    if others:
        raise UserError(
            f"resume={run} takes the run's own config, so {' '.join(others)} would be ignored; "
            f"to change it, start a new run with ckpt_path={last}"
        )
    read_checkpoint(last)
    previous.output_dir, previous.ckpt_path, previous.resume = str(run), str(last), None
    return previous
