"""Recompute a finished run's test metrics from its saved config and best checkpoint:

    python -m seqnets.evaluate run=outputs/runs/<date>/<time> [ckpt_path=...]

They match the run's metrics.json; the result is printed and kept as evaluation.json.
"""

import json
import sys
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig, OmegaConf, open_dict

from seqnets.errors import UserError, find_user_error
from seqnets.train import build, write_metrics


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


def evaluate(run: Path, ckpt_path: str | None = None) -> dict[str, Any]:
    """Test the run's best checkpoint (or `ckpt_path`) on its task's test sets."""
    cfg = run_config(run)
    recorded = (
        json.loads((run / "metrics.json").read_text()) if (run / "metrics.json").is_file() else {}
    )
    checkpoint = (
        ckpt_path or recorded.get("best_checkpoint") or str(run / "checkpoints" / "last.ckpt")
    )
    if not Path(checkpoint).is_file():
        raise UserError(f"ckpt_path={checkpoint}: no such checkpoint")
    task, module, trainer = build(cfg)
    tested = trainer.test(module, datamodule=task, ckpt_path=checkpoint, verbose=False)
    metrics = {
        "checkpoint": checkpoint,
        **task.test_metrics(tested),
        "test_samples": module.test_samples,
    }
    write_metrics(run, metrics, name="evaluation.json")
    return metrics


@hydra.main(version_base="1.3", config_path="../../conf", config_name="evaluate")
def main(cfg: DictConfig) -> None:
    try:
        metrics = evaluate(Path(cfg.run), cfg.ckpt_path)
    except Exception as err:
        cause = find_user_error(err)
        if cause is None:
            raise
        print(f"seqnets: error: {cause}", file=sys.stderr)
        raise SystemExit(2) from None
    print(json.dumps(metrics, indent=2))


if __name__ == "__main__":
    main()
