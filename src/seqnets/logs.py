"""A run's logged scalar curves, read back from its TensorBoard events or its CSV log; the
TensorBoard logger that names a sweep job's run, and the CSV logger that keeps a resumed run's
earlier rows."""

import csv
import logging
import math
from pathlib import Path
from typing import Any

from lightning.fabric.loggers.logger import rank_zero_experiment
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from omegaconf import OmegaConf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch.utils.tensorboard.summary import hparams

from seqnets.runs import job_overrides

# tag -> (step, value) in the order logged: val/acc has one point per epoch.
Curves = dict[str, list[tuple[int, float]]]
CURVE_TAGS = ("train/loss", "train/acc", "val/loss", "val/acc")


def tensorboard_curves(folder: Path) -> Curves:
    """TensorBoard's own reader, each step's latest write, in step order. A resumed run logs
    again the steps after its checkpoint; its writer's purge_step marks them, but the reader
    honours that only when it reads the files in the order written, and a run killed and
    resumed within one second names its two files by process id. Its INFO lines would land
    in the run's log, so it may only warn."""
    logging.getLogger("tensorboard").setLevel(logging.WARNING)
    events = EventAccumulator(str(folder), size_guidance={"scalars": 0})
    events.Reload()
    tags = set(events.Tags()["scalars"])
    curves: Curves = {}
    for tag in CURVE_TAGS:
        if tag in tags:
            latest = {
                e.step: e.value for e in sorted(events.Scalars(tag), key=lambda e: e.wall_time)
            }
            curves[tag] = sorted(latest.items())
    return curves


def csv_curves(path: Path) -> Curves:
    """Lightning's CSVLogger writes one row per logging call, blank where a tag was not logged."""
    curves: Curves = {}
    with path.open(newline="") as file:
        for row in csv.DictReader(file):
            for tag in CURVE_TAGS:
                value = row.get(tag, "")
                if value and not math.isnan(float(value)):
                    curves.setdefault(tag, []).append((int(row["step"]), float(value)))
    return curves


def read_curves(run: Path) -> Curves:
    """The run's training and validation curves from whichever logger it used; none if none."""
    if (run / "tensorboard").is_dir():
        events = sorted((run / "tensorboard").rglob("events.out.tfevents.*"))
        return tensorboard_curves(events[0].parent if events else run / "tensorboard")
    if (run / "csv" / "metrics.csv").is_file():
        return csv_curves(run / "csv" / "metrics.csv")
    return {}


class KeepingWriter(ExperimentWriter):
    """Lightning's CSV writer deletes an existing metrics.csv; for a run resumed at
    `purge_step` this one keeps the rows logged before it, and drops those the run logs again."""

    def __init__(self, log_dir: str, purge_step: int | None) -> None:
        self.purge_step = purge_step
        super().__init__(log_dir)

    def _check_log_dir_exists(self) -> None:
        if self.purge_step is None or not self._fs.isfile(self.metrics_file_path):
            super()._check_log_dir_exists()
            return
        with self._fs.open(self.metrics_file_path, "r", newline="") as file:
            reader = csv.DictReader(file)
            kept = [row for row in reader if int(row["step"]) < self.purge_step]
            self.metrics_keys = list(reader.fieldnames or [])
        with self._fs.open(self.metrics_file_path, "w", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=self.metrics_keys)
            writer.writeheader()
            writer.writerows(kept)


class ResumableCSVLogger(CSVLogger):
    """Lightning's CSVLogger; given `purge_step` (a resumed run's first step), it continues the
    run's metrics.csv instead of starting it afresh, as TensorBoardLogger(purge_step=) does."""

    def __init__(self, *args: Any, purge_step: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.purge_step = purge_step

    @property
    @rank_zero_experiment
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = KeepingWriter(self.log_dir, self.purge_step)
        return self._experiment


def sweep_job_name(run: Path) -> str:
    """What sets a sweep job apart, from the overrides Hydra saved in its folder
    (`model=gru,model.hidden_size=5`); empty for a single run. Paths and the preset's name are
    the same for every job of a sweep, so they are left out."""
    hydra_file = run / ".hydra" / "hydra.yaml"
    if not hydra_file.is_file() or OmegaConf.load(hydra_file).hydra.mode != "MULTIRUN":
        return ""
    kept = [o for o in job_overrides(run) if "/" not in o and not o.startswith("experiment=")]
    return ",".join(kept)


class SweepTensorBoardLogger(TensorBoardLogger):
    """Lightning's TensorBoard logger; in a sweep job it writes to `tensorboard/<overrides>/`,
    so TensorBoard, which names a run by its folder, calls it `0/tensorboard/model=gru,...`
    rather than `0/tensorboard`. A resumed job reads the name from its folder again."""

    def __init__(self, save_dir: str, **kwargs: Any) -> None:
        super().__init__(save_dir, **{"version": sweep_job_name(Path(save_dir)), **kwargs})

    def log_hyperparams(
        self, params: dict[str, Any], metrics: dict[str, float] | None = None, step: int = 0
    ) -> None:
        """Lightning's, but a sweep job writes only its session (its values and metrics): the
        experiment, which names the hyperparameters and metrics the HPARAMS tab lists, is the
        sweep's (seqnets.sweep), as TensorBoard reads one per folder, from any one run."""
        if not self.version:
            super().log_hyperparams(params, metrics, step)
            return
        self.log_metrics(metrics or {}, step)
        _, start, end = hparams(params, metrics or {})
        writer = self.experiment._get_file_writer()
        writer.add_summary(start, step)
        writer.add_summary(end, step)
