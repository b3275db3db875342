"""Every `python -m seqnets.train` command the README shows composes to a valid config and
runs (cut to two batches by debug=fast): the README cannot drift from what works."""

import re
import shlex
from pathlib import Path

import pytest
from conftest import FASHION_DIR, compose_train
from omegaconf import open_dict

from seqnets.train import train
from seqnets.validation import validate

README = Path(__file__).resolve().parents[1] / "README.md"
# Commands with a placeholder (`<run folder>`, `...`) stand for a user's own files; the tests
# of resume and ckpt_path run those.
COMMANDS = sorted(
    {
        c
        for c in re.findall(r"`python -m seqnets\.train ([^`<]*)`", README.read_text())
        if "..." not in c
    }
)


def first_job(command: str) -> list[str]:
    """The overrides of a command's first job: a multirun's first value of each swept key."""
    words = [w for w in shlex.split(command) if w not in ("-m", "--multirun")]
    return [re.sub(r"^([^=]+=)([^,\[]*),.*$", r"\1\2", w) for w in words]


def test_the_readme_shows_the_main_commands() -> None:
    assert "model=gru task=mnist" in COMMANDS
    assert any(c.startswith("-m ") for c in COMMANDS)
    assert len(COMMANDS) >= 10


@pytest.mark.parametrize("command", COMMANDS)
def test_every_readme_command_runs(command: str, tmp_path: Path) -> None:
    overrides = first_job(command)
    if "fashion" in command and not FASHION_DIR.is_dir():
        pytest.skip("apt-get install dataset-fashion-mnist")
    validate(compose_train(*overrides, hydra=True))
    if "hydra/launcher=" in command:  # the launcher's own tests run jobs through it
        return
    cfg = compose_train(
        *overrides,
        "debug=fast",
        "task.eval_batch_size=100",  # two small evaluation batches: 784-step psmnist too
        "trainer.accelerator=cpu",
        "callbacks.progress=null",
        f"output_dir={tmp_path}",
    )
    with open_dict(cfg):  # one process here; the DDP tests start several
        cfg.trainer.devices, cfg.trainer.strategy = 1, "auto"
    metrics = train(cfg)
    assert metrics["status"] == "completed"
