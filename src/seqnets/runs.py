"""A run as metrics.json names it, and a finished run folder as evaluate, predict and report
read it: its config and its checkpoint."""

import json
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from seqnets.errors import UserError


def describe(cfg: DictConfig) -> dict[str, Any]:
    """What a run is, as metrics.json names it, known before it starts."""
    model = cfg.get("model") or {}
    return {
        "task": OmegaConf.select(cfg, "task.name"),
        "model": ("bi" if model.get("bidirectional") else "") + str(model.get("cell")),
        "hidden_size": model.get("hidden_size"),
        "num_layers": model.get("num_layers"),
        "bidirectional": model.get("bidirectional"),
        "seed": cfg.get("seed"),
    }


def run_config(run: Path) -> DictConfig:
    """The run's own composed config, quietened: no loggers or checkpoints of its own."""
    saved = run / ".hydra" / "config.yaml"
    if not saved.is_file():
        raise UserError(f"run={run}: not a run folder (no .hydra/config.yaml in it)")
    cfg = OmegaConf.load(saved)
    with open_dict(cfg):
        cfg.output_dir, cfg.logger = str(run), None
        cfg.callbacks = {"progress": cfg.callbacks.get("progress")} if cfg.callbacks else None
    return cfg


def run_checkpoint(run: Path, ckpt_path: str | None = None) -> str:
    """`ckpt_path` if given, else the run's best checkpoint, else its last."""
    metrics = run / "metrics.json"
    recorded = json.loads(metrics.read_text()) if metrics.is_file() else {}
    checkpoint = (
        ckpt_path or recorded.get("best_checkpoint") or str(run / "checkpoints" / "last.ckpt")
    )
    if not Path(checkpoint).is_file():
        raise UserError(f"ckpt_path={checkpoint}: no such checkpoint")
    return checkpoint
