"""MNIST and Fashion-MNIST as sequences: row by row (28 steps of 28 pixels), pixel by pixel
(784 steps of one), or pixel by pixel in a fixed random order (permuted)."""

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.error import URLError

import numpy as np
import torch
from matplotlib.figure import Figure
from PIL import Image
from torch.utils.data import DataLoader
from torchvision import datasets
from torchvision.datasets.mnist import read_image_file, read_label_file
from torchvision.datasets.utils import extract_archive

from seqnets.errors import UserError
from seqnets.plots import image_grid
from seqnets.tasks.base import VAL_SIZE, EpochShuffle, SequenceTask, batch_loader, seeded_generator
from seqnets.tasks.drawings import SIDE, read_drawing
from seqnets.validation import Rule, at_least, one_of

if TYPE_CHECKING:
    from seqnets.report import Run

DATASETS: dict[str, type[datasets.MNIST]] = {
    "MNIST": datasets.MNIST,
    "FashionMNIST": datasets.FashionMNIST,
}
FILES: dict[str, Callable[[str], torch.Tensor]] = {
    "train-images-idx3-ubyte": read_image_file,
    "train-labels-idx1-ubyte": read_label_file,
    "t10k-images-idx3-ubyte": read_image_file,
    "t10k-labels-idx1-ubyte": read_label_file,
}
# Where the files are looked for when task.data_dir is null: MNIST ships with seqnets
# (CC BY-SA 3.0; data/mnist/README.md), Fashion-MNIST comes with Debian's
# dataset-fashion-mnist; failing those, torchvision downloads into data/.
KNOWN_DIRS = {
    "MNIST": Path(__file__).resolve().parents[1] / "data" / "mnist",
    "FashionMNIST": Path("/usr/share/datasets/fashion-mnist"),
}
ORDERS = ("row", "pixel", "permuted")
# The assignment's MNIST test accuracies after 5 epochs at hidden 128, by model.
MNIST_REFERENCE = {"rnn": 0.9309, "lstm": 0.9698, "gru": 0.9680, "birnn": 0.9475}
# What torchvision's IDX readers raise on a corrupt or truncated file, and gzip on a broken archive.
READ_ERRORS = (AssertionError, RuntimeError, ValueError, TypeError, KeyError, EOFError, OSError)


def read_idx(path: Path, reader: Callable[[str], torch.Tensor]) -> torch.Tensor:
    """Read one IDX file, gzip-compressed or not, with torchvision's own readers."""
    try:
        if path.suffix == ".gz":
            with tempfile.TemporaryDirectory() as tmp:
                return reader(extract_archive(str(path), tmp))
        return reader(str(path))
    except READ_ERRORS as err:
        detail = str(err) or "bad header"
        raise UserError(f"{path}: corrupt or truncated IDX file ({detail})") from None


class ImageSequences(SequenceTask):
    """A torchvision MNIST-style data set as sequences (of rows, of pixels, or of pixels in a
    fixed permuted order), held in memory as uint8.

    Batches are cut from one tensor and scaled on the device they train on; the validation
    split is drawn from the training files with its own seed, so it is the same for every run.
    """

    rules = (
        *SequenceTask.rules,
        VAL_SIZE,
        Rule("normalize", one_of(True, False), "true or false"),
        Rule("order", one_of(*ORDERS), f"one of {', '.join(ORDERS)}"),
        Rule("permutation_seed", at_least(0), "an integer >= 0"),
    )

    @classmethod
    def check(cls, task: Any) -> None:
        """Pixel orders feed one input per step."""
        super().check(task)
        if task.get("order", "row") != "row" and task.input_size != 1:
            raise UserError(
                f"task.input_size={task.input_size}: task.order={task.order} feeds one pixel per "
                "step, so it must be 1 (task=smnist and task=psmnist set it)"
            )

    def __init__(
        self,
        name: str,
        dataset: str,
        data_dir: str | None,
        val_size: int | float,
        split_seed: int,
        seed: int,
        normalize: bool,
        batch_size: int,
        eval_batch_size: int,
        input_size: int,
        num_classes: int,
        num_examples: int,
        order: str,
        permutation_seed: int,
    ) -> None:
        super().__init__(
            name, input_size, num_classes, batch_size, eval_batch_size, "last", num_examples
        )
        if dataset not in DATASETS:
            raise UserError(f"task.dataset={dataset!r}: expected one of {sorted(DATASETS)}")
        self.order = order
        # The permuted order's pixel sequence: its own seed, the same whatever the run's seed.
        self.permutation = torch.randperm(
            SIDE * SIDE, generator=seeded_generator(permutation_seed, 0)
        )
        self.dataset = DATASETS[dataset]
        self.given_dir = data_dir is not None
        self.data_dir = Path(data_dir or "data").expanduser().absolute()
        self.val_size = val_size
        self.split_seed, self.seed, self.normalize = split_seed, seed, normalize
        self.splits: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        self.pixel_stats = (0.0, 255.0)
        # The last image encode read, as the model saw it, and what was done to it.
        self.seen = np.zeros((SIDE, SIDE), np.uint8)
        self.reading = ""

    def folders(self) -> list[Path]:
        """Where the files may lie: data_dir itself, or torchvision's own layout below it;
        without a data_dir, first where seqnets or Debian keeps the data set."""
        known = [] if self.given_dir else [KNOWN_DIRS[self.dataset.__name__]]
        return [*known, self.data_dir, self.data_dir / self.dataset.__name__ / "raw"]

    def find_files(self) -> dict[str, Path] | None:
        """The four IDX files from the first folder that holds all of them, .gz or not."""
        for folder in self.folders():
            found = {
                stem: path
                for stem in FILES
                for path in (folder / stem, folder / f"{stem}.gz")
                if path.is_file()
            }
            if set(found) == set(FILES):
                return found
        return None

    def missing_message(self, why: str) -> str:
        names = ", ".join(f"{stem}[.gz]" for stem in FILES)
        where = ", ".join(str(folder) for folder in self.folders())
        return (
            f"{self.dataset.__name__} files not found: looked for {names} in {where}; {why}. "
            "Connect to the internet, or set task.data_dir to a folder that holds the four files "
            "(e.g. task.data_dir=/usr/share/datasets/fashion-mnist "
            "from Debian's dataset-fashion-mnist)"
        )

    def prepare_data(self) -> None:
        """Download through torchvision only when no folder holds the files already."""
        if self.find_files() is not None:
            return
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(prefix=".download-", dir=self.data_dir) as scratch:
                self.dataset(scratch, train=True, download=True)
                self.keep_download(Path(scratch) / self.dataset.__name__ / "raw")
        except (RuntimeError, URLError, OSError) as err:
            lines = [line.strip() for line in str(err).splitlines() if line.strip()]
            reason = lines[-1] if lines else type(err).__name__
            raise UserError(self.missing_message(f"the download failed ({reason})")) from None

    def keep_download(self, fetched: Path) -> None:
        """Move a finished download into place file by file: a download cut short leaves
        nothing behind that a later run could take for complete."""
        raw = self.data_dir / self.dataset.__name__ / "raw"
        raw.mkdir(parents=True, exist_ok=True)
        for stem in FILES:
            (fetched / stem).replace(raw / stem)

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        files = self.find_files()
        if files is None:
            raise UserError(self.missing_message("run prepare_data to download them"))
        tensors = {stem: read_idx(path, FILES[stem]) for stem, path in files.items()}
        for split in ("train", "t10k"):
            images, labels = (
                tensors[f"{split}-images-idx3-ubyte"],
                tensors[f"{split}-labels-idx1-ubyte"],
            )
            if self.order == "row" and images.shape[-1] != self.input_size:
                raise UserError(
                    f"{files[f'{split}-images-idx3-ubyte']}: rows of {images.shape[-1]} pixels, "
                    f"but task.input_size={self.input_size}"
                )
            if len(images) != len(labels):
                raise UserError(
                    f"{files[f'{split}-images-idx3-ubyte']}: {len(images)} images but "
                    f"{files[f'{split}-labels-idx1-ubyte']} has {len(labels)} labels"
                )
        train_x, train_y = tensors["train-images-idx3-ubyte"], tensors["train-labels-idx1-ubyte"]
        val_size = self.validation_count(len(train_x))
        order = torch.randperm(
            len(train_x), generator=torch.Generator().manual_seed(self.split_seed)
        )
        val, train = order[:val_size], order[val_size:]
        if self.normalize:
            pixels = train_x[train].float()
            self.pixel_stats = (pixels.mean().item(), pixels.std().item())
        self.splits = {
            "train": (train_x[train], train_y[train]),
            "val": (train_x[val], train_y[val]),
            "test": (tensors["t10k-images-idx3-ubyte"], tensors["t10k-labels-idx1-ubyte"]),
        }
        self.move_to_accelerator()

    def validation_count(self, available: int) -> int:
        """`val_size` as a number of training images: a count, or a share of them (the default,
        a twelfth: 5,000 of MNIST's 60,000), so a smaller data set keeps a fitting split."""
        count = (
            self.val_size if isinstance(self.val_size, int) else round(self.val_size * available)
        )
        if not 0 < count < available:
            raise UserError(
                f"task.val_size={self.val_size}: {count} of the {available} training images; "
                f"must leave between 1 and {available - 1} for validation"
            )
        return count

    def move_to_accelerator(self) -> None:
        """On a GPU the whole uint8 data set (a few tens of MB) lives there, so every batch is
        one gather on the device and no copy from the host."""
        device = self.trainer.strategy.root_device if self.trainer is not None else None
        if device is not None and device.type == "cuda":
            self.splits = {
                split: tuple(t.to(device) for t in tensors)
                for split, tensors in self.splits.items()
            }

    def train_dataloader(self) -> DataLoader:
        size = len(self.splits["train"][1])
        order = EpochShuffle(size, self.seed, self.current_epoch, self.shard())
        return batch_loader(self.splits["train"], self.batch_size, order)

    def val_dataloader(self) -> DataLoader:
        return self.eval_loader("val")

    def test_dataloader(self) -> DataLoader:
        return self.eval_loader("test")

    def eval_loader(self, split: str) -> DataLoader:
        """In order; under DDP each process takes every world-th image."""
        rank, world = self.shard()
        order = range(rank, len(self.splits[split][1]), world)
        return batch_loader(self.splits[split], self.eval_batch_size, order)

    def predict_dataloader(self) -> DataLoader:
        """The first test images, the ones predictions.txt shows."""
        images, labels = self.splits["test"]
        n = self.num_examples
        return batch_loader((images[:n], labels[:n]), n, range(n))

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        """Scale on the device, the uint8 copy being a quarter of the float one: to [0, 1], or
        to zero mean and unit variance over the training images when `normalize` is set; then
        lay the pixels out in the task's order."""
        images, labels = batch
        shift, scale = self.pixel_stats
        x = images.float().sub_(shift).div_(scale)
        if self.order == "row":
            return x, labels
        x = x.flatten(1)
        if self.order == "permuted":
            self.permutation = self.permutation.to(x.device)
            x = x[:, self.permutation]
        return x.unsqueeze(-1), labels

    def inspection_set(self, count: int) -> tuple[torch.Tensor, torch.Tensor]:
        images, labels = self.splits["test"]
        return self.on_after_batch_transfer((images[:count], labels[:count]), 0)

    def format_predictions(self, preds: list[torch.Tensor], metrics: dict[str, Any]) -> str:
        preds = torch.cat(preds)
        labels = self.splits["test"][1][: len(preds)]
        return (
            f"Predicted: {' '.join(str(int(p)) for p in preds)}\n"
            f"True:      {' '.join(str(int(t)) for t in labels)}\n"
            f"Test accuracy on the {metrics['test_samples']} test images: "
            f"{100 * metrics['test_acc']:.2f} %\n"
        )

    def figures(self, preds: list[torch.Tensor], metrics: dict[str, Any]) -> dict[str, Figure]:
        """The example test images with their predicted and true classes."""
        preds = torch.cat(preds)
        images, labels = (t[: len(preds)].cpu() for t in self.splits["test"])
        names = [name.split(" - ")[0] for name in self.dataset.classes]
        return {"predictions": image_grid(images, preds, labels, names)}

    def state_dict(self) -> dict[str, Any]:
        """Checkpoints keep the pixel scaling and order, so a reloaded model sees its inputs as
        in training."""
        return {"pixel_stats": list(self.pixel_stats), "permutation": self.permutation.tolist()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.pixel_stats = tuple(state_dict["pixel_stats"])
        if "permutation" in state_dict:
            self.permutation = torch.tensor(state_dict["permutation"])

    def encode(self, text: str) -> torch.Tensor:
        """An image file of any size, grayscale or colour, brought into the data set's form
        (`read_drawing`) as 28 x 28 scaled pixels in the task's order."""
        self.seen, self.reading = read_drawing(text, self.dataset.__name__)
        images = torch.from_numpy(self.seen).unsqueeze(0)
        return self.on_after_batch_transfer((images, None), 0)[0]

    def save_input(self, path: Path) -> None:
        """The 28 x 28 image the model classified, for a person to check the preprocessing."""
        try:
            Image.fromarray(self.seen).save(path)
        except (OSError, ValueError) as err:
            raise UserError(f"save_input={path}: cannot write the image ({err})") from None

    def explain(self, probs: torch.Tensor) -> str:
        best = int(probs[0].argmax())
        shares = "  ".join(f"{c}: {p:.3f}" for c, p in enumerate(probs[0].tolist()))
        return (
            f"Prediction: {best} (probability {probs[0, best]:.3f})\n"
            f"Class probabilities: {shares}\nInput: {self.reading}"
        )

    @classmethod
    def reference(cls, run: "Run") -> float | None:
        """The assignment's MNIST rows: one layer of 128 for 5 epochs, without the L2 term."""
        m = run.metrics
        if (
            m["task"] == "mnist"
            and (m["hidden_size"], m["num_layers"], m.get("epochs")) == (128, 1, 5)
            and not run.cfg.get("l2_penalty")
        ):
            return MNIST_REFERENCE.get(m["model"])
        return None
