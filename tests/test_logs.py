from pathlib import Path

import pytest
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

from seqnets.logs import read_curves


def test_tensorboard_and_csv_logs_read_back_alike(tmp_path: Path) -> None:
    """Both loggers given the same calls as training makes them; both read back the same."""
    loggers = [
        TensorBoardLogger(tmp_path, name="tensorboard", version=""),
        CSVLogger(tmp_path / "c", name="csv", version=""),
    ]
    for logger in loggers:
        for step in (49, 99, 149):
            logger.log_metrics({"train/loss": 1.0 / (step + 1), "train/acc": step / 200}, step)
        logger.log_metrics({"val/acc": 0.5, "val/loss": 0.7, "epoch": 0}, 149)
        logger.log_metrics({"lr-Adam": 0.002}, 149)
        logger.save()
        logger.finalize("success")
    from_tensorboard = read_curves(tmp_path)
    from_csv = read_curves(tmp_path / "c")
    assert (
        from_tensorboard.keys()
        == from_csv.keys()
        == {"train/loss", "train/acc", "val/loss", "val/acc"}
    )
    for tag, points in from_csv.items():
        assert [s for s, _ in points] == [s for s, _ in from_tensorboard[tag]]
        assert [v for _, v in points] == [pytest.approx(v) for _, v in from_tensorboard[tag]]
    assert from_csv["val/acc"] == [(149, 0.5)]


def test_a_run_without_logs_has_no_curves(tmp_path: Path) -> None:
    assert read_curves(tmp_path) == {}
