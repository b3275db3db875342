"""Recompute a finished run's test metrics from its saved config and best checkpoint:

    python -m seqnets.evaluate run=outputs/runs/<date>/<time> [ckpt_path=...]

They match the run's metrics.json; the result is printed and kept as evaluation.json.
"""

import json
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig

from seqnets.errors import one_line_errors
from seqnets.runs import build, run_checkpoint, run_config, test_checkpoint, write_metrics


def evaluate(run: Path, ckpt_path: str | None = None) -> dict[str, Any]:
    """Test the run's best checkpoint (or `ckpt_path`) on its task's test sets."""
    cfg = run_config(run)
    checkpoint, _ = run_checkpoint(run, ckpt_path)
    task, module, trainer = build(cfg)
    metrics = {"checkpoint": checkpoint, **test_checkpoint(trainer, task, module, checkpoint)}
    write_metrics(run, metrics, name="evaluation.json")
    return metrics


@hydra.main(version_base="1.3", config_path="pkg://seqnets.conf", config_name="evaluate")
def main(cfg: DictConfig) -> None:
    with one_line_errors():
        print(json.dumps(evaluate(Path(cfg.run), cfg.ckpt_path), indent=2))


if __name__ == "__main__":
    main()
