"""Damaged files in a finished run: every reader stops with one line naming the file and what
is wrong, and leaves the run as it was."""

import hashlib
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from conftest import compose_train, finished_run, recall_cfg
from omegaconf import OmegaConf

from seqnets.errors import UserError
from seqnets.evaluate import evaluate
from seqnets.predict import predict
from seqnets.report import write_report
from seqnets.runs import read_checkpoint, resumed
from seqnets.train import train


def cut_in_half(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def foreign(path: Path) -> None:
    """A file torch.save wrote, but not a module's checkpoint."""
    torch.save({"weights": torch.zeros(2)}, path)


def unreadable(path: Path) -> None:
    """/proc/self/mem cannot be read from its start, not even by root."""
    path.unlink()
    path.symlink_to("/proc/self/mem")


DAMAGE: dict[str, tuple[Callable[[Path], Any], str]] = {
    "truncated": (cut_in_half, "truncated or corrupt checkpoint, torch.load cannot"),
    "empty": (lambda p: p.write_bytes(b""), "empty file, not a checkpoint"),
    "text": (lambda p: p.write_text("not a checkpoint\n"), "truncated or corrupt checkpoint"),
    "foreign": (foreign, "not a seqnets checkpoint (no state_dict, hyper_parameters in it)"),
    "unreadable": (unreadable, "cannot read it (Input/output error)"),
}


@pytest.fixture(scope="module")
def good_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One finished recall run, trained once; each test damages its own copy."""
    return finished_run(recall_cfg(compose_train, tmp_path_factory.mktemp("good") / "run"))


@pytest.fixture
def run(good_run: Path, tmp_path: Path) -> Path:
    """A copy of the finished run, its config and metrics.json pointing at the copy."""
    copy = tmp_path / "run"
    shutil.copytree(good_run, copy)
    for name in (".hydra/config.yaml", "metrics.json"):
        (copy / name).write_text((copy / name).read_text().replace(str(good_run), str(copy)))
    return copy


def snapshot(folder: Path) -> dict[str, str]:
    """Every file of the folder by its digest (a link by its target)."""
    return {
        str(p.relative_to(folder)): str(p.readlink())
        if p.is_symlink()
        else hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_symlink() or p.is_file()
    }


def best(run: Path) -> Path:
    return next((run / "checkpoints").glob("best-*.ckpt"))


def train_from(run: Path) -> None:
    """A new run, in a folder of its own, that starts from the run's last.ckpt."""
    new = OmegaConf.load(run / ".hydra" / "config.yaml")
    new.output_dir, new.ckpt_path = str(run.parent / "new"), str(run / "checkpoints" / "last.ckpt")
    Path(new.output_dir).mkdir()
    train(new)


READERS: dict[str, Callable[[Path], Any]] = {
    "evaluate": evaluate,
    "evaluate ckpt_path": lambda run: evaluate(run, str(run / "checkpoints" / "last.ckpt")),
    "predict": lambda run: predict(run, "1 2 3 4 5"),
    "resume": lambda run: resumed(OmegaConf.create({"resume": str(run)}), [f"resume={run}"]),
    "train ckpt_path": train_from,
    "report": lambda run: write_report([run], run.parent / "report"),
}


def assert_refused(run: Path, reader: str, damaged: Path, what: str) -> None:
    """The reader raises one line that starts with the file and says what is wrong with it,
    no file of the run has changed, and no progress display is left drawing (holding the
    console's lock, which hung the next report while the refusal was still referenced)."""
    before = snapshot(run)
    with pytest.raises(UserError, match=f"^{re.escape(f'{damaged}: {what}')}") as refused:
        READERS[reader](run)
    assert "\n" not in str(refused.value)
    assert snapshot(run) == before
    # A stopped display's thread has `done` set and may take a moment more to exit.
    drawing = [t for t in threading.enumerate() if type(t).__module__ == "rich.live"]
    assert all(t.done.is_set() for t in drawing)


@pytest.mark.parametrize("damage", DAMAGE)
@pytest.mark.parametrize(
    "reader", ["evaluate", "evaluate ckpt_path", "predict", "resume", "train ckpt_path"]
)
def test_a_damaged_checkpoint_is_one_line_naming_it(run: Path, reader: str, damage: str) -> None:
    spoil, what = DAMAGE[damage]
    target = best(run) if reader in ("evaluate", "predict") else run / "checkpoints" / "last.ckpt"
    spoil(target)
    assert_refused(run, reader, target, what)


def test_a_good_checkpoint_reads_back(run: Path) -> None:
    saved = read_checkpoint(run / "checkpoints" / "last.ckpt")
    assert saved["hyper_parameters"]["model"]["hidden_size"] == 4
    assert saved["global_step"] > 0 and saved["state_dict"]


@pytest.mark.parametrize("command", ["evaluate", "predict"])
def test_cli_truncated_checkpoint_is_one_line(run: Path, command: str) -> None:
    DAMAGE["truncated"][0](best(run))
    args = [f"run={run}"] + (["input=1 2 3 4 5"] if command == "predict" else [])
    done = subprocess.run(
        [sys.executable, "-m", f"seqnets.{command}", *args],
        cwd=run.parent,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"seqnets: error: {best(run)}: truncated or corrupt checkpoint, torch.load cannot read it"
    ]
    assert done.stdout == ""


def cut_config(run: Path) -> Path:
    """config.yaml cut short at a line's end: still valid YAML, but most of it is gone."""
    saved = run / ".hydra" / "config.yaml"
    saved.write_text("".join(saved.read_text().splitlines(keepends=True)[:40]))
    return saved


def bad_yaml(run: Path) -> Path:
    saved = run / ".hydra" / "config.yaml"
    saved.write_text(saved.read_text() + "bad: [unclosed\n")
    return saved


def bad_json(run: Path) -> Path:
    metrics = run / "metrics.json"
    metrics.write_text(metrics.read_text()[:100])
    return metrics


CONFIG_READERS = ["evaluate", "predict", "resume", "report"]


@pytest.mark.parametrize(
    ("reader", "spoil", "what"),
    [(r, cut_config, "damaged or cut short, not a run's config (no ") for r in CONFIG_READERS]
    + [(r, bad_yaml, "damaged, not valid YAML (ParserError)") for r in CONFIG_READERS]
    # resume reads no metrics.json: the run's config and last.ckpt are all it takes.
    + [(r, bad_json, "damaged, not valid JSON (") for r in ("evaluate", "predict", "report")],
)
def test_a_damaged_run_folder_is_one_line_naming_the_file(run: Path, reader, spoil, what) -> None:
    assert_refused(run, reader, spoil(run), what)
