"""The end of a multirun: one line per job that did not complete, and a non-zero exit if any;
after an Optuna search, the best trial too."""

import json
import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from seqnets.runs import objective

# What Hydra's Optuna sweeper leaves in the sweep folder: the study's best parameters and value.
SEARCH_RESULTS = "optimization_results.yaml"


def read_job_metrics(job: Path) -> dict[str, Any]:
    """A job folder's metrics.json; none, or a damaged one, means the job never said how it
    ended."""
    try:
        return json.loads((job / "metrics.json").read_text())
    except (OSError, ValueError):
        return {"error": "no metrics.json: the job stopped before recording how it ended"}


def job_status(job: Path) -> tuple[str, str]:
    """A job folder's status and error from its metrics.json; no file means it never ended."""
    metrics = read_job_metrics(job)
    return metrics.get("status", "failed"), metrics.get("error", "")


def job_overrides(job: Path) -> list[str]:
    """The command line's overrides a job ran with: a search's trial puts its parameters first."""
    return list(OmegaConf.load(job / ".hydra" / "overrides.yaml"))


def best_trial(sweep: Path, jobs: list[Path], metric: str) -> str | None:
    """The search's best trial as one line: the job that ran it, its score and parameters.
    The sweeper names only the parameters and value, so the job is the one with both; a study
    extended from a database may have found its best in an earlier command's sweep folder."""
    results = sweep / SEARCH_RESULTS
    if not results.is_file():
        return None
    best = OmegaConf.load(results)
    if "best_params" not in best:  # several objectives: a Pareto front, no single best
        return None
    params = [f"{key}={value}" for key, value in best.best_params.items()]
    matches = [
        job
        for job in jobs
        if objective(read_job_metrics(job)) == best.best_value
        and set(params) <= set(job_overrides(job))
    ]
    found = f"job {matches[0].name} ({matches[0]})" if matches else f"not in {sweep}"
    return f"best: {metric}={best.best_value:.6g}, {found}: {' '.join(params)}"


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
        best = best_trial(sweep, jobs, OmegaConf.select(config, "callbacks.checkpoint.monitor"))
        if best:
            print(best)
        for job, (status, error) in failed.items():
            overrides = " ".join(job_overrides(job))
            first_line = error.splitlines()[0] if error else ""
            print(f"  job {job.name} ({overrides}): {status}: {first_line}")
        if failed:
            sys.exit(1)
