import json
import logging
import os
from pathlib import Path

import optuna
import pytest
import torch
from conftest import assert_no_library_notices, make_idx_dir, toy_data
from omegaconf import OmegaConf
from tensorboard import context
from tensorboard.backend.event_processing import data_provider, plugin_event_multiplexer
from tensorboard.plugins import base_plugin
from tensorboard.plugins.hparams import api_pb2, backend_context
from test_train import cli

from seqnets.sweep import SEARCH_RESULTS, best_trial, job_overrides, job_status, share_cores


def tensorboard_view(logdir: Path) -> tuple[list[str], api_pb2.Experiment]:
    """The run names and the HPARAMS experiment, as TensorBoard's own backend reads them."""
    runs = plugin_event_multiplexer.EventMultiplexer()
    runs.AddRunsFromDirectory(str(logdir))
    runs.Reload()
    provider = data_provider.MultiplexerDataProvider(runs, str(logdir))
    tab = backend_context.Context(base_plugin.TBContext(data_provider=provider, logdir=str(logdir)))
    ctx = context.RequestContext()
    experiment = tab.experiment_from_metadata(
        ctx, "", True, tab.hparams_metadata(ctx, ""), tab.hparams_from_data_provider(ctx, "", 0)
    )
    return sorted(runs.Runs()), experiment


def test_threads_set_by_the_user_win_and_a_single_run_keeps_torchs_choice(caplog) -> None:
    before = torch.get_num_threads()
    try:
        with caplog.at_level(logging.INFO, logger="seqnets.sweep"):
            share_cores(3, hidden_size=5)
            assert torch.get_num_threads() == 3
            share_cores(None, hidden_size=128)  # no jobs side by side: torch's count stays
            assert torch.get_num_threads() == 3
            share_cores(None, hidden_size=5)  # a small network: one thread
            assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    assert caplog.messages[0] == "torch threads: 3 (threads, as set)"
    assert caplog.messages[1].startswith("torch threads: 3 (torch's choice on ")
    assert caplog.messages[2] == "torch threads: 1 (hidden size 5 < 64: too small to split)"


# A two-trial search on recall, cut to two batches of a small data set.
SEARCH = [
    "hparams_search=recall_optuna",
    "hydra.sweeper.n_trials=2",
    "debug=fast",
    "task.train_size=200",
    "task.test_size=40",
    "callbacks.progress=null",
]
SEARCHED = ("optim.lr", "model.hidden_size", "task.batch_size")  # conf/hparams_search/recall_optuna


def test_a_job_without_metrics_counts_as_failed(tmp_path: Path) -> None:
    assert job_status(tmp_path) == (
        "failed",
        "no metrics.json: the job stopped before recording how it ended",
    )
    (tmp_path / "metrics.json").write_text('{"status": "diverged", "error": "loss became nan"}')
    assert job_status(tmp_path) == ("diverged", "loss became nan")


def test_cli_sweep_runs_past_a_bad_job_and_sums_up(tmp_path: Path) -> None:
    folder = make_idx_dir(tmp_path / "idx")
    sweep = tmp_path / "sweep"
    done = cli(
        "-m",
        "model.hidden_size=8,0,4",
        *toy_data(folder),
        "model=gru",
        "debug=fast",
        f"hydra.sweep.dir={sweep}",
        cwd=tmp_path,
    )
    assert done.returncode == 1, done.stderr[-2000:]
    runs = sorted(p.parent for p in sweep.glob("*/metrics.json"))
    assert [p.name for p in runs] == ["0", "1", "2"]
    saved = [json.loads((p / "metrics.json").read_text()) for p in runs]
    assert [m["status"] for m in saved] == ["completed", "failed", "completed"]
    assert saved[1]["error"] == "model.hidden_size=0: must be an integer >= 1"
    assert f"sweep: 2 of 3 jobs completed, results in {sweep}" in done.stdout
    assert "job 1 (model.hidden_size=0 " in done.stdout
    assert "Traceback" not in done.stderr
    assert all((p / ".hydra" / "config.yaml").is_file() for p in runs)


@pytest.mark.parametrize(
    "launcher",
    [
        [],  # Hydra's own: one job after the other
        ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"],  # both at once
        ["hydra/launcher=submitit_local"],  # the SLURM launcher's local twin
    ],
    ids=["basic", "joblib", "submitit_local"],
)
def test_cli_two_job_multirun_completes_with_a_folder_each(
    tmp_path: Path, launcher: list[str]
) -> None:
    """...and in TensorBoard each job is named by its overrides, the HPARAMS tab lists the swept
    key first and the task's headline metric; jobs run side by side share the cores."""
    folder = make_idx_dir(tmp_path / "idx")
    sweep = tmp_path / "sweep"
    done = cli(
        "-m",
        *launcher,
        "model=rnn,gru",
        *toy_data(folder),
        "debug=fast",
        f"hydra.sweep.dir={sweep}",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    saved = [json.loads(p.read_text()) for p in sorted(sweep.glob("*/metrics.json"))]
    assert [(m["model"], m["status"]) for m in saved] == [
        ("rnn", "completed"),
        ("gru", "completed"),
    ]
    assert f"sweep: 2 of 2 jobs completed, results in {sweep}" in done.stdout
    if "submitit" not in str(launcher):  # whose jobs print to their own files
        assert_no_library_notices(done.stderr)

    runs, experiment = tensorboard_view(sweep)
    common = "task.val_size=40,task.batch_size=20,debug=fast"
    assert runs == [".", f"0/tensorboard/model=rnn,{common}", f"1/tensorboard/model=gru,{common}"]
    names = [(h.name, h.differs) for h in experiment.hparam_infos]
    swept = [name for name, differs in names if differs]
    assert "model" in swept and [name for name, _ in names[: len(swept)]] == swept
    assert {"task", "hidden_size", "lr", "batch_size", "max_epochs", "seed"} <= dict(names).keys()
    assert not any("_target_" in name for name, _ in names)
    assert [m.name.tag for m in experiment.metric_infos] == ["hp/test_acc"]

    threads = [
        line.split(" - ")[-1]
        for job in ("0", "1")
        for line in (sweep / job / "train.log").read_text().splitlines()
        if "torch threads" in line
    ]
    share = "torch threads: 1 (2 cores shared by 2 jobs at once)"
    if launcher and "joblib" in launcher[0] and len(os.sched_getaffinity(0)) == 2:
        assert threads == [share, share]
    else:
        assert len(threads) == 2 and "shared" not in threads[0]


def fake_job(folder: Path, overrides: list[str], score: float) -> Path:
    (folder / ".hydra").mkdir(parents=True)
    OmegaConf.save(OmegaConf.create(overrides), folder / ".hydra" / "overrides.yaml")
    metrics = {"status": "completed", "selected_by": {"val/loss": score}}
    (folder / "metrics.json").write_text(json.dumps(metrics))
    return folder


def test_the_best_trial_is_the_job_with_its_parameters_and_value(tmp_path: Path) -> None:
    jobs = [
        fake_job(tmp_path / "0", ["optim.lr=0.01", "model.hidden_size=4"], 0.5),
        fake_job(tmp_path / "1", ["optim.lr=0.02", "model.hidden_size=4"], 0.2),
        fake_job(tmp_path / "2", ["optim.lr=0.02", "model.hidden_size=4"], 0.3),  # TPE repeats
    ]
    assert best_trial(tmp_path, jobs, "val/loss") is None  # not a search
    best = {"best_params": {"optim.lr": 0.02, "model.hidden_size": 4}, "best_value": 0.2}
    OmegaConf.save(OmegaConf.create(best), tmp_path / SEARCH_RESULTS)
    assert best_trial(tmp_path, jobs, "val/loss") == (
        f"best: val/loss=0.2, job 1 ({tmp_path / '1'}): optim.lr=0.02 model.hidden_size=4"
    )
    # A study extended from a database may hold its best from an earlier command.
    assert best_trial(tmp_path, jobs[:1], "val/loss") == (
        f"best: val/loss=0.2, not in {tmp_path}: optim.lr=0.02 model.hidden_size=4"
    )


def test_cli_search_names_its_best_trial_and_repeats_with_its_seed(tmp_path: Path) -> None:
    picked = []
    for name in ("first", "again"):
        sweep = tmp_path / name
        done = cli(*SEARCH, f"hydra.sweep.dir={sweep}", cwd=tmp_path)
        assert done.returncode == 0, done.stderr[-2000:]
        assert f"sweep: 2 of 2 jobs completed, results in {sweep}" in done.stdout
        jobs = [sweep / "0", sweep / "1"]
        losses = [
            json.loads((j / "metrics.json").read_text())["selected_by"]["val/loss"] for j in jobs
        ]
        best = jobs[losses.index(min(losses))]  # recall's checkpoint: the lowest loss
        line = next(line for line in done.stdout.splitlines() if line.startswith("best: "))
        assert line.startswith(f"best: val/loss={min(losses):.6g}, job {best.name} ({best}): ")
        searched = {o for o in job_overrides(best) if o.split("=")[0] in SEARCHED}
        assert set(line.rsplit(": ", 1)[1].split()) == searched
        picked.append([job_overrides(j) for j in jobs])
    assert picked[0] == picked[1]
    assert picked[0][0] != picked[0][1]


def test_cli_search_whose_every_trial_fails_ends_in_the_summary(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    done = cli(*SEARCH, "model.hidden_size=0", f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    assert done.returncode == 1, done.stderr[-2000:]
    assert f"sweep: 0 of 2 jobs completed, results in {sweep}" in done.stdout
    failed = [line for line in done.stdout.splitlines() if line.startswith("  job ")]
    assert len(failed) == 2
    assert all(
        line.endswith("): failed: model.hidden_size=0: must be an integer >= 1") for line in failed
    )
    assert "search: no trial completed, so there is no best" in done.stdout
    assert "Traceback" not in done.stderr
    assert "best: " not in done.stdout


def test_cli_search_records_a_failed_trial_and_extends_its_study(tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path / 'search.db'}"
    study = [f"hydra.sweeper.storage={storage}", "hydra.sweeper.study_name=recall"]
    sweep = tmp_path / "sweep"
    # Hidden size 0 is refused: with seed 42 one trial draws it and fails, the other runs.
    done = cli(
        *SEARCH, *study, "model.hidden_size=choice(0,4)", f"hydra.sweep.dir={sweep}", cwd=tmp_path
    )
    assert done.returncode == 1, done.stderr[-2000:]
    assert f"sweep: 1 of 2 jobs completed, results in {sweep}" in done.stdout
    assert "): failed: model.hidden_size=0: must be an integer >= 1" in done.stdout
    completed = next(j for j in (sweep / "0", sweep / "1") if job_status(j)[0] == "completed")
    assert f", job {completed.name} ({completed}): " in done.stdout
    states = [t.state.name for t in optuna.load_study(study_name="recall", storage=storage).trials]
    assert sorted(states) == ["COMPLETE", "FAIL"]
    # The same search with another seed adds its trials to the study.
    more = tmp_path / "more"
    done = cli(
        *SEARCH,
        *study,
        "model.hidden_size=choice(0,4)",
        "hydra.sweeper.sampler.seed=7",
        f"hydra.sweep.dir={more}",
        cwd=tmp_path,
    )
    assert f"results in {more}" in done.stdout, done.stderr[-2000:]
    assert len(optuna.load_study(study_name="recall", storage=storage).trials) == 4
