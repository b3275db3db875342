"""A new task is one YAML and one class: a toy task kept in a folder of its own, outside
seqnets, is refused, trained and reported like the shipped ones, with nothing in seqnets changed."""

from pathlib import Path

import pytest
from conftest import assert_png, compose_train, finished_run
from omegaconf import OmegaConf

from seqnets.errors import UserError
from seqnets.report import write_report
from seqnets.validation import validate

TASK_YAML = """\
# Is the sum of a sequence of random numbers positive? One label per sequence.
_target_: sign.Sign
name: sign
length: 6
size: 200
seed: ${seed}
input_size: 1
num_classes: 2
batch_size: 20
eval_batch_size: 100
"""

TASK_CLASS = '''\
"""Is the sum of a sequence of random numbers positive?"""

from typing import Any

import torch
from torch.utils.data import DataLoader

from seqnets.tasks.base import Batch, SequenceTask, batch_loader
from seqnets.validation import Rule, at_least

SPLITS = ("train", "val", "test")


class Sign(SequenceTask):
    rules = (*SequenceTask.rules, Rule("length", at_least(1), "an integer >= 1"))

    def __init__(
        self,
        name: str,
        length: int,
        size: int,
        seed: int,
        input_size: int,
        num_classes: int,
        batch_size: int,
        eval_batch_size: int,
    ) -> None:
        super().__init__(name, input_size, num_classes, batch_size, eval_batch_size)
        self.length, self.size, self.seed = length, size, seed

    def setup(self, stage: str | None = None) -> None:
        generator = torch.Generator().manual_seed(self.seed)
        x = torch.randn(len(SPLITS) * self.size, self.length, 1, generator=generator)
        y = (x.sum((1, 2)) > 0).long()
        self.splits = dict(zip(SPLITS, zip(x.split(self.size), y.split(self.size))))

    def loader(self, split: str, batch_size: int) -> DataLoader:
        return batch_loader(self.splits[split], batch_size, range(self.size))

    def train_dataloader(self) -> DataLoader:
        return self.loader("train", self.batch_size)

    def val_dataloader(self) -> DataLoader:
        return self.loader("val", self.eval_batch_size)

    def test_dataloader(self) -> DataLoader:
        return self.loader("test", self.eval_batch_size)

    def predict_dataloader(self) -> DataLoader:
        return self.loader("test", self.eval_batch_size)

    def inspection_set(self, count: int) -> Batch:
        x, y = self.splits["test"]
        return x[:count], y[:count]

    def format_predictions(self, preds: list[torch.Tensor], metrics: dict[str, Any]) -> str:
        return f"Test accuracy: {100 * metrics['test_acc']:.2f} %\\n"
'''


@pytest.fixture
def sign_task(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The new task's folder: its YAML under conf/task/ and its class in sign.py."""
    folder = tmp_path / "sign"
    (folder / "conf" / "task").mkdir(parents=True)
    (folder / "conf" / "task" / "sign.yaml").write_text(TASK_YAML)
    (folder / "sign.py").write_text(TASK_CLASS)
    monkeypatch.syspath_prepend(str(folder))
    return folder


def sign_cfg(folder: Path, *overrides: str):
    return compose_train(f"hydra.searchpath=[file://{folder / 'conf'}]", "task=sign", *overrides)


def test_a_new_tasks_rules_come_with_its_class(sign_task: Path) -> None:
    validate(sign_cfg(sign_task))
    with pytest.raises(UserError, match=r"^task.length=0: must be an integer >= 1$"):
        validate(sign_cfg(sign_task, "task.length=0"))


def test_a_new_task_trains_and_reports(sign_task: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    overrides = ["model=gru", "model.hidden_size=8", "trainer.max_epochs=2", "inspect_examples=50"]
    quiet = ["trainer.accelerator=cpu", "trainer.log_every_n_steps=1", "callbacks.progress=null"]
    cfg = sign_cfg(sign_task, *overrides, *quiet, f"output_dir={out}")
    validate(cfg)
    finished_run(cfg)
    OmegaConf.save(OmegaConf.create(["task=sign", *overrides]), out / ".hydra" / "overrides.yaml")
    assert (out / "predictions.txt").read_text().startswith("Test accuracy: ")
    assert_png(out / "figures" / "states.png")
    report = write_report([out], tmp_path / "report")
    assert "## sign: 1 of 1 runs completed" in report.read_text()
    assert_png(tmp_path / "report" / "figures" / "sign_accuracy_time.png")
