"""What a multirun's jobs share: the machine's cores while they run and, under joblib, the sweep
process's imports (its workers fork from it); at the end, one line per job that did not complete
(and a non-zero exit if any), after an Optuna search the best trial, and TensorBoard's HPARAMS
experiment."""

import gc
import json
import logging
import os
import sys
import warnings
from pathlib import Path
from typing import Any

import torch
from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf
from tensorboard.compat.proto.summary_pb2 import Summary
from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2
from torch.utils.tensorboard import SummaryWriter

from seqnets.errors import UserError
from seqnets.runs import hparams, job_overrides, objective, saved_config, task_class

log = logging.getLogger(__name__)


def jobs_at_once(hydra: DictConfig | None = None) -> int:
    """How many jobs the launcher of `hydra` (this job's Hydra config by default) runs side by
    side: joblib's `n_jobs` as joblib counts it (-1: one per core); one for Hydra's own
    launcher, which runs them in turn, or a single run."""
    if hydra is None and HydraConfig.initialized():
        hydra = HydraConfig.get()
    if hydra is None or hydra.mode != RunMode.MULTIRUN:
        return 1
    n_jobs = hydra.launcher.get("n_jobs")
    if n_jobs is None:
        return 1
    from joblib import effective_n_jobs

    return effective_n_jobs(n_jobs)


def fork_joblib_workers() -> None:
    """joblib's workers fork from this process, which has imported torch and Lightning already,
    instead of each starting Python and importing them anew (4-9 s here, as long as a small
    job). loky warns that a fork copies threads half-way; this process has run no torch op yet,
    so none has started. gc.freeze, as Python's docs advise before a fork, keeps the workers'
    collector off the pages they share. Where there is no fork (Windows), or CUDA has started
    here (a forked child cannot use it), loky's own start stays."""
    from joblib.externals.loky.backend.context import START_METHODS, set_start_method

    if "fork" in START_METHODS and not torch.cuda.is_initialized():
        warnings.filterwarnings(
            "ignore",
            message="`fork` start method should not be used with `loky`",
            category=UserWarning,
            module=r"joblib\.externals\.loky\.backend\.context",
        )
        set_start_method("fork", force=True)
        gc.freeze()


def register_search() -> None:
    """Hydra finds sweepers by scanning the hydra_plugins package, which misses one installed in
    editable mode (as `make install` does): seqnets' search (conf/hydra/sweeper/search.yaml)
    is named to it directly."""
    from hydra.core.plugins import Plugins

    from hydra_plugins.seqnets_search.search import Search

    Plugins.instance().register(Search)


# Below this many hidden units a training step is too small to split: on this 2-core machine
# one thread ran an RNN-5 step in 0.70 ms and an LSTM-32 step in 1.9 ms against 0.76 and 2.8
# with two, and with another process busy two threads ran a 4-job adder sweep 13x slower;
# from LSTM-64 on, two threads win (3.4 ms against 4.0).
SMALL_HIDDEN = 64


def share_cores(threads: int | None, hidden_size: int) -> None:
    """torch's threads for this job, said in train.log: `threads` when the user sets it, else
    the job's share of the cores when several jobs run at once (each torch would otherwise
    take every core, and their threads fight over them), else one for a small network, else
    torch's own choice."""
    cores, jobs = len(os.sched_getaffinity(0)), jobs_at_once()
    if threads is not None:
        reason = "threads, as set"
    elif jobs > 1:
        threads = max(1, cores // jobs)
        reason = f"{cores} cores shared by {jobs} jobs at once"
    elif hidden_size < SMALL_HIDDEN:
        threads, reason = 1, f"hidden size {hidden_size} < {SMALL_HIDDEN}: too small to split"
    else:
        threads, reason = torch.get_num_threads(), f"torch's choice on {cores} cores"
    torch.set_num_threads(threads)
    log.info("torch threads: %d (%s)", threads, reason)


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


def hparam_info(name: str, values: list[Any]) -> api_pb2.HParamInfo:
    """TensorBoard's description of one hyperparameter across the jobs."""
    kind = (
        api_pb2.DATA_TYPE_BOOL
        if all(isinstance(v, bool) for v in values)
        else api_pb2.DATA_TYPE_FLOAT64
        if all(isinstance(v, int | float) for v in values)
        else api_pb2.DATA_TYPE_STRING
    )
    return api_pb2.HParamInfo(name=name, type=kind, differs=len({str(v) for v in values}) > 1)


def write_experiment(sweep: Path, jobs: list[Path]) -> None:
    """The sweep's HPARAMS experiment, in its folder: the hyperparameters, those the jobs differ
    in listed first (the ones swept), and the tasks' headline metrics, nothing else."""
    configs = []
    for job in (j for j in jobs if (j / "tensorboard").is_dir()):
        try:
            configs.append(saved_config(job, "job"))
        except UserError:
            continue
    if not configs:
        return
    params = [hparams(cfg) for cfg in configs]
    names = list(dict.fromkeys(k for p in params for k in p))
    infos = [hparam_info(k, [p.get(k) for p in params]) for k in names]
    headline = dict.fromkeys(m for cfg in configs for m in task_class(cfg).headline)
    metrics = [api_pb2.MetricInfo(name=api_pb2.MetricName(tag=f"hp/{m}")) for m in headline]
    experiment = plugin_data_pb2.HParamsPluginData(
        experiment=api_pb2.Experiment(hparam_infos=infos, metric_infos=metrics)
    )
    tagged = Summary.Value(
        tag=metadata.EXPERIMENT_TAG, metadata=metadata.create_summary_metadata(experiment)
    )
    with SummaryWriter(str(sweep)) as writer:
        writer._get_file_writer().add_summary(Summary(value=[tagged]))


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
    """Before the jobs, has joblib fork its workers from this process when several run at once;
    after them, reads every job folder of the sweep, so it works whichever launcher ran them."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        if jobs_at_once(config.hydra) > 1:
            fork_joblib_workers()

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep = Path(config.hydra.sweep.dir)
        jobs = sorted(
            (p.parent.parent for p in sweep.glob("*/.hydra/overrides.yaml")),
            key=lambda p: (len(p.name), p.name),
        )
        write_experiment(sweep, jobs)
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
