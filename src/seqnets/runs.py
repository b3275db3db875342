"""A finished run folder as evaluate and predict read it: its config and its checkpoint."""

import json
from pathlib import Path

from omegaconf import DictConfig, OmegaConf, open_dict

from seqnets.errors import UserError


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
