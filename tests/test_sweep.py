import json
from pathlib import Path

import pytest
from conftest import make_idx_dir, toy_data
from test_train import cli

from seqnets.sweep import job_status


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
