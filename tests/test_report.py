import csv
import json
import subprocess
import sys
from pathlib import Path

from conftest import assert_png
from omegaconf import OmegaConf
from torch.utils.tensorboard import SummaryWriter

from seqnets.report import write_report
from seqnets.runs import run_identity


def fake_run(folder: Path, compose_cfg, overrides: list[str], metrics: dict | None) -> None:
    """A run folder as train leaves it: config, overrides, metrics.json and a TensorBoard log
    (none for a run that never finished)."""
    cfg = compose_cfg(*overrides, f"output_dir={folder}")
    (folder / ".hydra").mkdir(parents=True)
    OmegaConf.save(cfg, folder / ".hydra" / "config.yaml", resolve=False)
    OmegaConf.save(OmegaConf.create(overrides), folder / ".hydra" / "overrides.yaml")
    if metrics is None:
        return
    (folder / "metrics.json").write_text(json.dumps({**run_identity(cfg), **metrics}))
    if metrics["status"] == "completed":
        writer = SummaryWriter(str(folder / "tensorboard"))
        for step in range(1, 4):
            writer.add_scalar("train/loss", 2.0 / step, 50 * step)
            writer.add_scalar("train/acc", 0.3 * step, 50 * step)
            writer.add_scalar("val/acc", 0.3 * step, 50 * step)
        writer.close()


def fake_multirun(sweep: Path, compose_cfg) -> None:
    """Two tasks: four recall runs (hidden 2 and 5, rnn and gru) and two MNIST runs, one failed."""
    for num, (model, hidden) in enumerate([("rnn", 2), ("rnn", 5), ("gru", 2), ("gru", 5)]):
        by_len = {str(n): 0.5 + hidden / 20 for n in (3, 10, 15)}
        metrics = {
            "status": "completed",
            "test_acc": 0.5 + hidden / 20,
            "test_acc_extra": 0.4,
            "test_acc_by_len": by_len,
            "sec_per_epoch": 0.5,
            "num_params": 100 + hidden,
            "epochs": 3,
        }
        fake_run(
            sweep / str(num),
            compose_cfg,
            ["task=recall", f"model={model}", f"model.hidden_size={hidden}"],
            metrics,
        )
        early = {str(t): 0.1 if t < 2 else 0.5 + hidden / 20 for t in range(1, 11)}
        (sweep / str(num) / "inspection.json").write_text(json.dumps({"early_acc": early}))
    done = {"status": "completed", "test_acc": 0.97, "sec_per_epoch": 12.5, "epochs": 5}
    fake_run(sweep / "4", compose_cfg, ["model=lstm", "model.hidden_size=128"], done)
    failed = {"status": "failed", "error": "model.dropout=2: must be in [0, 1)"}
    fake_run(sweep / "5", compose_cfg, ["model=gru", "model.hidden_size=128"], failed)
    fake_run(sweep / "6", compose_cfg, ["model=rnn", "model.hidden_size=128"], None)


def test_report_of_a_multirun(tmp_path: Path, compose_cfg) -> None:
    sweep = tmp_path / "multirun"
    fake_multirun(sweep, compose_cfg)
    (sweep / "report").mkdir()  # an earlier report is not a run
    out = write_report([sweep], sweep / "report").parent

    with (out / "report.csv").open() as file:
        rows = list(csv.DictReader(file))
    assert [(r["task"], r["model"], r["status"]) for r in rows] == [
        ("recall", "rnn", "completed"),
        ("recall", "rnn", "completed"),
        ("recall", "gru", "completed"),
        ("recall", "gru", "completed"),
        ("mnist", "lstm", "completed"),
        ("mnist", "gru", "failed"),
        ("mnist", "rnn", "unfinished"),
    ]
    columns = list(rows[0])
    assert columns[:4] == ["task", "model", "model.hidden_size", "status"]
    assert columns.index("test_acc") < columns.index("sec_per_epoch")
    assert [r["reference_acc"] for r in rows] == ["0.16", "0.3", "", "", "0.9698", "", ""]
    assert rows[1]["test_acc_by_len.15"] == "0.75"
    assert rows[5]["error"] == "model.dropout=2: must be in [0, 1)"

    md = (out / "report.md").read_text()
    assert "## recall: 4 of 4 runs completed" in md and "## mnist: 1 of 3 runs completed" in md
    assert "| rnn | 5 | completed | 75.00 | 40.00 | 30.00 | 0.50 | 105 | 3 |" in md
    assert f"- `{sweep / '5'}`: failed: model.dropout=2: must be in [0, 1)" in md
    assert f"- `{sweep / '6'}`: unfinished:" in md
    figures = {"recall_curves", "recall_early", "recall_by_hidden"}
    figures |= {"mnist_curves", "mnist_accuracy_time"}
    assert {p.stem for p in (out / "figures").iterdir()} == figures
    for name in figures:
        assert f"![{name}](figures/{name}.png)" in md
        assert_png(out / "figures" / f"{name}.png")


def test_report_of_an_optuna_search(tmp_path: Path, compose_cfg) -> None:
    """A search's sweep folder: its trials as any multirun's runs, then its best trial (the
    sweeper's results file) and the objective over the trials, a failed trial left out."""
    sweep = tmp_path / "search"
    for num, (lr, loss) in enumerate([(0.02, 0.9), (0.05, None), (0.005, 0.3)]):
        if loss is None:
            metrics = {"status": "diverged", "error": "loss became nan"}
        else:
            metrics = {"status": "completed", "test_acc": 0.5, "sec_per_epoch": 0.5}
            metrics["selected_by"] = {"val/loss": loss}
        fake_run(sweep / str(num), compose_cfg, ["task=recall", f"optim.lr={lr}"], metrics)
    best = {"name": "optuna", "best_params": {"optim.lr": 0.005}, "best_value": 0.3}
    OmegaConf.save(OmegaConf.create(best), sweep / "optimization_results.yaml")
    out = write_report([sweep], sweep / "report").parent

    md = (out / "report.md").read_text()
    assert "## recall: 2 of 3 runs completed" in md
    assert f"## search {sweep}: 2 of 3 trials completed" in md
    assert f"best: val/loss=0.3, job 2 ({sweep / '2'}): optim.lr=0.005" in md
    assert "![search1_objective](figures/search1_objective.png)" in md
    assert_png(out / "figures" / "search1_objective.png")


def test_report_of_a_path_without_runs_is_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "seqnets.report", str(tmp_path)], capture_output=True, text=True
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == (
        f"seqnets: error: {tmp_path}: no runs found (a run folder holds .hydra/config.yaml "
        "from python -m seqnets.train)"
    )
    assert not (tmp_path / "report").exists()
