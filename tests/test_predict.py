import re
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import CONF_DIR, compose_train, finished_run
from hydra import compose, initialize_config_dir
from PIL import Image, ImageFilter

from seqnets.errors import UserError
from seqnets.predict import predict
from seqnets.report import read_run
from seqnets.tasks.images import KNOWN_DIRS, read_idx, read_image_file, read_label_file


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
    with pytest.raises(UserError, match=r"^save_input=seen.png: task recall reads text, not an"):
        predict(run, "4 9 9", save_input="seen.png")


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


def test_a_run_saved_under_the_old_names_still_reads(compose_cfg, tmp_path: Path) -> None:
    """Runs saved before the renames (`head`, `optim.l2_penalty`) read as today's, by predict
    and by the report alike."""
    run = synthetic_run(compose_cfg, tmp_path, "adder")
    answer = predict(run, "1011+0110")
    saved = run / ".hydra" / "config.yaml"
    old = saved.read_text().replace(
        "readout: ${oc.select:task.readout,last}", "head: ${oc.select:task.head,last}"
    )
    old = old.replace("readout: every", "head: every").replace("l2_penalty: 0.0", "")
    old = old.replace("optim:\n", "optim:\n  l2_penalty: 0.0\n")
    assert "readout" not in old and "  l2_penalty: 0.0" in old
    saved.write_text(old)
    for path in (run / "checkpoints").glob("*.ckpt"):
        checkpoint = torch.load(path, weights_only=True)
        hparams = checkpoint["hyper_parameters"]
        hparams["optim"]["l2_penalty"] = hparams.pop("l2_penalty")
        hparams["model"]["head"] = hparams["model"].pop("readout")
        torch.save(checkpoint, path)
    assert predict(run, "1011+0110") == answer
    (run / ".hydra" / "overrides.yaml").write_text("[]\n")  # as a plain command leaves it
    reported = read_run(run)
    assert (reported.cfg.model.readout, reported.cfg.l2_penalty) == ("every", 0.0)


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
    seen = tmp_path / "seen.png"
    answer = predict(run, str(big_rgb), save_input=str(seen))
    assert answer.splitlines()[2].startswith("Input: dark page kept; digit fitted into 20 x 20")
    assert answer.splitlines()[3] == f"Saved as the model saw it: {seen}"
    with Image.open(seen) as saved:
        assert saved.size == (28, 28) and saved.mode == "L"
    (tmp_path / "bad.png").write_bytes(b"not an image")
    with pytest.raises(UserError, match=f"^input={tmp_path / 'bad.png'}: not a readable image"):
        predict(run, str(tmp_path / "bad.png"))


def test_predict_has_a_save_input_key_off_by_default() -> None:
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = compose("predict", overrides=["run=r", "input=i", "save_input=seen.png"])
    assert cfg.save_input == "seen.png"


@pytest.fixture(scope="module")
def mnist_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A plain run of the default config (5 epochs of an LSTM on the shipped MNIST), trained
    once for the tests that ask it about drawn digits."""
    out = tmp_path_factory.mktemp("mnist")
    overrides = ["trainer.accelerator=cpu", "callbacks.progress=null", "logger=none"]
    return finished_run(compose_train(*overrides, f"output_dir={out}"))


def on_white(digit: np.ndarray, size: int, corner: int, blur: float) -> Image.Image:
    """A stored digit drawn black on a white 280 x 280 page, `size` pixels wide from
    (`corner`, `corner`), its strokes blurred by `blur` pixels."""
    page = Image.new("L", (280, 280), 255)
    drawn = Image.fromarray(255 - digit).resize((size, size), Image.Resampling.BICUBIC)
    page.paste(drawn, (corner, corner))
    return page.filter(ImageFilter.GaussianBlur(blur))


def predicted_digit(run: Path, image: Image.Image, path: Path) -> int:
    image.save(path)
    return int(predict(run, str(path)).split()[1])


@pytest.mark.realdata
def test_digits_drawn_as_people_draw_them_are_read(mnist_run: Path, tmp_path: Path) -> None:
    """The first ten test digits, black on white at 280 x 280, and half that size a quarter of
    the page off-centre with blurred strokes, are read as the trained model reads MNIST."""
    digits = read_idx(KNOWN_DIRS["MNIST"] / "t10k-images-idx3-ubyte.gz", read_image_file)[:10]
    labels = read_idx(KNOWN_DIRS["MNIST"] / "t10k-labels-idx1-ubyte.gz", read_label_file)[:10]
    drawings = {
        "centred": lambda digit: on_white(digit, 280, 0, 0),
        "shifted and blurred": lambda digit: on_white(digit, 140, 140, 3),
    }
    for name, draw in drawings.items():
        preds = [predicted_digit(mnist_run, draw(d.numpy()), tmp_path / "d.png") for d in digits]
        right = sum(p == t for p, t in zip(preds, labels.tolist(), strict=True))
        assert right >= 9, f"{name}: {preds} for {labels.tolist()}"
    stored = [
        predicted_digit(mnist_run, Image.fromarray(d.numpy()), tmp_path / "d.png") for d in digits
    ]
    shown = (mnist_run / "predictions.txt").read_text().splitlines()[0].split()[1:]
    assert stored == [int(p) for p in shown], "stored digits: the run's own predictions"
