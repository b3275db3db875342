import re
from pathlib import Path

import numpy as np
import pytest
from conftest import finished_run
from PIL import Image

from seqnets.errors import UserError
from seqnets.predict import predict
from seqnets.tasks.images import read_idx, read_image_file


def synthetic_run(compose_cfg, tmp_path: Path, task: str) -> Path:
    (tmp_path / task).mkdir()
    return finished_run(
        compose_cfg(
            f"task={task}",
            "task.train_size=300",
            "task.test_size=20",
            "model=gru",
            "model.hidden_size=6",
            "trainer.max_epochs=2",
            "trainer.accelerator=cpu",
            "callbacks.progress=null",
            "logger=none",
            f"output_dir={tmp_path / task}",
        )
    )


def test_recall_predictions_match_the_runs_own(compose_cfg, tmp_path: Path) -> None:
    run = synthetic_run(compose_cfg, tmp_path, "recall")
    shown = re.findall(
        r"Array: \[([\d ]+)\]  (Prediction at position 2: \d)",
        (run / "predictions.txt").read_text(),
    )
    assert len(shown) == 30
    for digits, answer in shown:
        assert predict(run, digits) == answer
    with pytest.raises(
        UserError, match=r"^input='4': 1 digit\(s\), but this model recalls position k=2$"
    ):
        predict(run, "4")
    with pytest.raises(UserError, match=r"^input='4 x 9': expected digits 0-9 separated by spaces"):
        predict(run, "4 x 9")


def test_adder_predictions_match_the_runs_own(compose_cfg, tmp_path: Path) -> None:
    run = synthetic_run(compose_cfg, tmp_path, "adder")
    shown = re.findall(
        r"(\d+) \+ (\d+) = \d+   predicted (\d+)", (run / "predictions.txt").read_text()
    )
    assert len(shown) == 12
    for a, b, answer in shown:
        assert predict(run, f"{a}+{b}") == answer
    assert len(predict(run, "1011+110")) == 5, "one bit more than the longer number"
    with pytest.raises(UserError, match=r"^input='1011\+0120': expected two binary numbers"):
        predict(run, "1011+0120")


def test_image_predictions_match_the_runs_own(run_cfg, idx_dir: Path, tmp_path: Path) -> None:
    run = finished_run(run_cfg())
    first = read_idx(idx_dir / "t10k-images-idx3-ubyte", read_image_file)[0].numpy()
    png = tmp_path / "first.png"
    Image.fromarray(first).save(png)
    expected = (run / "predictions.txt").read_text().split()[1]
    answer = predict(run, str(png))
    assert answer.startswith(f"Prediction: {expected} (probability ")
    probs = [float(p) for p in re.findall(r"\d: ([\d.]+)", answer.splitlines()[1])]
    assert len(probs) == 10 and abs(sum(probs) - 1) < 0.01

    big_rgb = tmp_path / "big.jpg"
    Image.fromarray(np.stack([np.kron(first, np.ones((3, 3), np.uint8))] * 3, -1)).save(big_rgb)
    assert re.match(r"Prediction: \d \(probability", predict(run, str(big_rgb)))
    (tmp_path / "bad.png").write_bytes(b"not an image")
    with pytest.raises(UserError, match=f"^input={tmp_path / 'bad.png'}: not a readable image"):
        predict(run, str(tmp_path / "bad.png"))
