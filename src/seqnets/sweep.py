"""The end of a multirun: one line per job that did not complete, and a non-zero exit if any."""

import json
import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf


def job_status(job: Path) -> tuple[str, str]:
    """A job folder's status and error from its metrics.json; no file means it never ended."""
    try:
        metrics = json.loads((job / "metrics.json").read_text())
    except (OSError, ValueError):
        return "failed", "no metrics.json: the job stopped before recording how it ended"
    return metrics.get("status", "failed"), metrics.get("error", "")


class SweepSummary(Callback):
    """Reads every job folder of the sweep, so it works whichever launcher ran the jobs."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep = Path(config.hydra.sweep.dir)
        jobs = sorted(
            (p.parent.parent for p in sweep.glob("*/.hydra/overrides.yaml")),
            key=lambda p: (len(p.name), p.name),
        )
        statuses = {job: job_status(job) for job in jobs}
        failed = {job: s for job, s in statuses.items() if s[0] != "completed"}
        print(f"sweep: {len(jobs) - len(failed)} of {len(jobs)} jobs completed, results in {sweep}")
        for job, (status, error) in failed.items():
            overrides = " ".join(OmegaConf.load(job / ".hydra" / "overrides.yaml"))
            first_line = error.splitlines()[0] if error else ""
            print(f"  job {job.name} ({overrides}): {status}: {first_line}")
        if failed:
            sys.exit(1)
