"""Shared fixtures: tiny IDX data sets written on the spot, and in-process runs of train."""

import gzip
import os
import signal
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from lightning.pytorch import Callback
from omegaconf import DictConfig, OmegaConf
from PIL import Image

from seqnets.tasks.images import KNOWN_DIRS

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"
MNIST_DIR = KNOWN_DIRS["MNIST"]  # the copy seqnets ships
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")


def write_idx(path: Path, array: np.ndarray) -> Path:
    """Write a uint8 array in the IDX format (gzip-compressed when the name ends in .gz)."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def write_split(folder: Path, split: str, images: np.ndarray, labels: np.ndarray, gz: bool) -> None:
    suffix = ".gz" if gz else ""
    write_idx(folder / f"{split}-images-idx3-ubyte{suffix}", images)
    write_idx(folder / f"{split}-labels-idx1-ubyte{suffix}", labels)


def make_idx_dir(folder: Path, n_train: int = 240, n_test: int = 60, gz: bool = False) -> Path:
    """A learnable toy data set: class c lights up row 2c+3, so a recurrent net can find it."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_train), ("t10k", n_test)):
        labels = rng.integers(0, 10, n).astype(np.uint8)
        images = rng.integers(0, 60, (n, 28, 28)).astype(np.uint8)
        images[np.arange(n), 2 * labels + 3, :] = 255
        write_split(folder, split, images, labels, gz)
    return folder


def assert_png(path: Path) -> None:
    """A real PNG image with something drawn on it, not just a file of that name."""
    with Image.open(path) as image:
        assert image.format == "PNG"
        image.load()
        assert image.convert("L").getextrema()[0] < 128  # some ink on the white page


def toy_data(folder: Path) -> list[str]:
    """Overrides that point a run at the toy IDX files in `folder`, cut small for a test."""
    return [f"task.data_dir={folder}", "task.val_size=40", "task.batch_size=20"]


def assert_no_library_notices(printed: str) -> None:
    """No Lightning tip and no library's warning (which prints the library file that raised
    it) in what a command printed."""
    assert "Tip:" not in printed and "site-packages" not in printed, printed[-2000:]


@pytest.fixture
def idx_dir(tmp_path: Path) -> Path:
    return make_idx_dir(tmp_path / "idx")


def compose_train(*overrides: str, hydra: bool = False) -> DictConfig:
    """Compose conf/train.yaml with overrides, as the command line would; `hydra` keeps
    Hydra's own node (its group choices, a launcher's settings)."""
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        return compose("train", overrides=list(overrides), return_hydra_config=hydra)


def option_values(group: str, option: str, **settings: Any) -> dict[str, Any]:
    """conf/<group>/<option>.yaml's values (seed 0), `settings` over them: its YAML alone holds
    a class's defaults, so a test builds the class from them as a run does."""
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        node = compose(f"{group}/{option}")[group]
    merged = OmegaConf.merge({"seed": 0, group: node}, {group: settings})
    return OmegaConf.to_container(merged[group], resolve=True)


def built(group: str, option: str, **settings: Any) -> Any:
    """The class conf/<group>/<option>.yaml builds, with `settings` over its values."""
    return instantiate(option_values(group, option, **settings))


@pytest.fixture
def compose_cfg() -> Callable[..., DictConfig]:
    return compose_train


@pytest.fixture
def run_cfg(compose_cfg: Callable[..., DictConfig], idx_dir: Path, tmp_path: Path):
    """A short run's config on the toy data, writing into its own folder under tmp_path."""

    def _cfg(*overrides: str, name: str = "run") -> DictConfig:
        out = tmp_path / name
        out.mkdir()
        return compose_cfg(
            *toy_data(idx_dir),
            "task.eval_batch_size=50",
            "model.hidden_size=16",
            "trainer.max_epochs=2",
            "trainer.accelerator=cpu",
            "trainer.log_every_n_steps=1",
            "callbacks.progress=null",
            f"output_dir={out}",
            *overrides,
        )

    return _cfg


def recall_cfg(compose_cfg: Callable[..., DictConfig], out: Path, *overrides: str) -> DictConfig:
    """A tiny recall run (200 training sequences, hidden size 4, two epochs) writing to `out`."""
    out.mkdir()
    return compose_cfg(
        "task=recall",
        "task.train_size=200",
        "task.test_size=40",
        "model.hidden_size=4",
        "trainer.max_epochs=2",
        "trainer.accelerator=cpu",
        "callbacks.progress=null",
        f"output_dir={out}",
        *overrides,
    )


class InterruptAt(Callback):
    """Press Ctrl-C at a given epoch and batch, as a user would."""

    def __init__(self, epoch: int, batch: int) -> None:
        self.epoch, self.batch = epoch, batch

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx: int) -> None:
        if trainer.current_epoch == self.epoch and batch_idx == self.batch:
            self.stop()

    def stop(self) -> None:
        raise KeyboardInterrupt


class PoisonAt(Callback):
    """Make the model's first weight NaN before a given training step, as a blow-up would."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx: int) -> None:
        if trainer.global_step == self.step:
            with torch.no_grad():
                next(pl_module.net.parameters()).fill_(float("nan"))


class KillAt(InterruptAt):
    """SIGKILL at a given epoch and batch: no handler runs, no logger is flushed or closed."""

    def stop(self) -> None:
        os.kill(os.getpid(), signal.SIGKILL)


def finished_run(cfg: DictConfig) -> Path:
    """Train a run in process and leave its folder as the command line would (.hydra too)."""
    from omegaconf import OmegaConf

    from seqnets.train import train

    out = Path(cfg.output_dir)
    (out / ".hydra").mkdir(parents=True, exist_ok=True)
    OmegaConf.save(cfg, out / ".hydra" / "config.yaml")
    train(cfg)
    return out
