"""A run's logged scalar curves, read back from its TensorBoard events or its CSV log."""

import csv
import logging
import math
from pathlib import Path

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

# tag -> (step, value) in the order logged: val/acc has one point per epoch.
Curves = dict[str, list[tuple[int, float]]]
CURVE_TAGS = ("train/loss", "train/acc", "val/loss", "val/acc")


def tensorboard_curves(folder: Path) -> Curves:
    """TensorBoard's own reader; it drops what a resumed run wrote twice. Its INFO lines about
    the files it walks would land in the run's log, so it may only warn."""
    logging.getLogger("tensorboard").setLevel(logging.WARNING)
    events = EventAccumulator(str(folder), size_guidance={"scalars": 0})
    events.Reload()
    tags = set(events.Tags()["scalars"])
    return {
        tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in CURVE_TAGS if tag in tags
    }


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
        return tensorboard_curves(run / "tensorboard")
    if (run / "csv" / "metrics.csv").is_file():
        return csv_curves(run / "csv" / "metrics.csv")
    return {}
