"""What `pip install seqnets` gets: the configs and MNIST inside the package, enough to train,
report and predict from any folder with no checkout and no network."""

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import CONF_DIR, MNIST_DIR
from PIL import Image

from seqnets.tasks.images import read_idx, read_image_file

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    pip = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
    subprocess.run([*pip, "-w", str(out), str(ROOT)], check=True, capture_output=True)
    (built,) = out.glob("seqnets-*.whl")
    return built


def test_the_wheel_holds_every_config_and_the_mnist_files(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    yamls = CONF_DIR.rglob("*.yaml")
    configs = {f"seqnets/conf/{p.relative_to(CONF_DIR).as_posix()}" for p in yamls}
    shipped = {f"seqnets/data/mnist/{p.name}" for p in MNIST_DIR.iterdir()}
    assert len(configs) > 30 and configs <= names
    assert len(shipped) == 5 and shipped <= names  # four IDX files and the licence's README


def test_an_installed_seqnets_trains_and_predicts_away_from_the_checkout(
    wheel: Path, tmp_path: Path
) -> None:
    site, work = tmp_path / "site", tmp_path / "elsewhere"
    work.mkdir()
    install = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q"]
    subprocess.run([*install, "--target", str(site), str(wheel)], check=True, capture_output=True)
    env = os.environ | {"PYTHONPATH": str(site)}

    def python(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, *args], cwd=work, env=env, capture_output=True, text=True
        )

    found = python("-c", "import seqnets.conf; print(seqnets.conf.__file__)")
    assert found.stdout.startswith(str(site))  # the installed copy, not the checkout
    run = work / "run"
    done = python(
        "-m", "seqnets.train", "model=gru", "task=mnist", "debug=fast",
        "trainer.accelerator=cpu", f"hydra.run.dir={run}",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    metrics = json.loads((run / "metrics.json").read_text())
    assert (metrics["status"], metrics["model"]) == ("completed", "gru")
    assert metrics["test_samples"] == 2000  # two batches of the shipped test set
    digit = work / "digit.png"
    images = read_idx(MNIST_DIR / "t10k-images-idx3-ubyte.gz", read_image_file)
    Image.fromarray(images[0].numpy()).save(digit)
    asked = python("-m", "seqnets.predict", f"run={run}", f"input={digit}")
    assert asked.returncode == 0, asked.stderr[-2000:]
    assert "Prediction: " in asked.stdout
