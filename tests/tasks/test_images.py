import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import MNIST_DIR, built, make_idx_dir, write_idx, write_split
from PIL import Image

from seqnets.errors import UserError
from seqnets.tasks.images import FILES, KNOWN_DIRS, ImageSequences, read_idx, read_image_file


def task(data_dir: Path, **kwargs) -> ImageSequences:
    settings = {"val_size": 40, "batch_size": 20, "eval_batch_size": 50} | kwargs
    return built("task", "mnist", data_dir=str(data_dir), **settings)


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """torchvision's download fails as it does with no network, and records where it would write."""
    calls: list[Path] = []

    def fail(self) -> None:
        calls.append(Path(self.raw_folder))
        raise RuntimeError(
            "Error downloading train-images-idx3-ubyte.gz:\nTried mirrors, got URLError"
        )

    monkeypatch.setattr("torchvision.datasets.MNIST.download", fail)
    return calls


@pytest.mark.parametrize("gz", [False, True])
def test_reads_a_flat_folder_compressed_or_not(
    tmp_path: Path, gz: bool, offline: list[Path]
) -> None:
    dm = task(make_idx_dir(tmp_path, gz=gz))
    dm.prepare_data()
    dm.setup("fit")
    assert not offline, "files were there: no download may be tried"
    x, y = next(iter(dm.train_dataloader()))
    assert x.dtype == torch.uint8 and x.shape == (20, 28, 28) and y.shape == (20,)
    x, y = dm.on_after_batch_transfer((x, y), 0)
    assert x.dtype == torch.float32 and x.min() >= 0.0 and x.max() <= 1.0


def test_reads_torchvisions_own_layout(tmp_path: Path, offline: list[Path]) -> None:
    make_idx_dir(tmp_path / "MNIST" / "raw")
    dm = task(tmp_path)
    dm.prepare_data()
    dm.setup()
    assert not offline
    assert [len(dm.splits[s][0]) for s in ("train", "val", "test")] == [200, 40, 60]


def test_validation_split_is_seeded_and_disjoint(idx_dir: Path) -> None:
    first, second, other = task(idx_dir), task(idx_dir), task(idx_dir, split_seed=1)
    for dm in (first, second, other):
        dm.setup()
    assert torch.equal(first.splits["val"][0], second.splits["val"][0])
    assert not torch.equal(first.splits["val"][0], other.splits["val"][0])
    train_rows = {bytes(x.numpy()) for x in first.splits["train"][0]}
    assert not any(bytes(x.numpy()) in train_rows for x in first.splits["val"][0])


def test_batches_cover_the_split_once(idx_dir: Path) -> None:
    dm = task(idx_dir)
    dm.setup()
    labels = torch.cat([y for _, y in dm.test_dataloader()])
    assert torch.equal(labels, dm.splits["test"][1])
    shuffled = torch.cat([y for _, y in dm.train_dataloader()])
    assert sorted(shuffled.tolist()) == sorted(dm.splits["train"][1].tolist())


def test_missing_files_offline_say_what_and_where(tmp_path: Path, offline: list[Path]) -> None:
    dm = task(tmp_path / "nowhere")
    with pytest.raises(UserError) as err:
        dm.prepare_data()
    message = str(err.value)
    assert "\n" not in message
    for stem in FILES:
        assert f"{stem}[.gz]" in message
    assert (
        str(tmp_path / "nowhere") in message
        and str(tmp_path / "nowhere" / "MNIST" / "raw") in message
    )
    assert "download failed" in message and "task.data_dir" in message and "Connect" in message
    assert len(offline) == 1 and offline[0].parts[-2:] == ("MNIST", "raw")
    assert not (tmp_path / "nowhere" / "MNIST").exists()
    assert not list((tmp_path / "nowhere").iterdir()), "nothing half-downloaded stays"


def test_a_download_cut_short_leaves_nothing_that_looks_complete(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def cut_short(self) -> None:
        make_idx_dir(Path(self.raw_folder))
        (Path(self.raw_folder) / "t10k-labels-idx1-ubyte").unlink()
        raise RuntimeError("Error downloading t10k-labels-idx1-ubyte.gz:\nconnection reset")

    monkeypatch.setattr("torchvision.datasets.MNIST.download", cut_short)
    dm = task(tmp_path / "data")
    with pytest.raises(UserError, match="connection reset"):
        dm.prepare_data()
    assert dm.find_files() is None
    assert not [p for p in (tmp_path / "data").rglob("*") if p.is_file()]


def test_a_finished_download_lands_in_torchvisions_layout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        "torchvision.datasets.MNIST.download", lambda self: make_idx_dir(Path(self.raw_folder))
    )
    dm = task(tmp_path / "data")
    dm.prepare_data()
    assert dm.find_files() == {stem: tmp_path / "data" / "MNIST" / "raw" / stem for stem in FILES}
    assert [p.name for p in (tmp_path / "data").iterdir()] == ["MNIST"]
    dm.setup()
    assert len(dm.splits["test"][1]) == 60


@pytest.mark.parametrize("damage", ["truncated", "garbage", "broken_gzip"])
def test_corrupt_file_is_named(tmp_path: Path, damage: str) -> None:
    folder = make_idx_dir(tmp_path / "d", gz=damage == "broken_gzip")
    victim = next(folder.glob("train-images-idx3-ubyte*"))
    data = victim.read_bytes()
    victim.write_bytes(
        {"truncated": data[: len(data) // 2], "garbage": b"\x13\x37" * 10}.get(damage, data[:100])
    )
    with pytest.raises(UserError, match=f"^{victim}: corrupt or truncated IDX file") as err:
        task(folder).setup()
    assert "\n" not in str(err.value)


def test_images_and_labels_must_agree(tmp_path: Path) -> None:
    folder = make_idx_dir(tmp_path)
    write_idx(folder / "t10k-labels-idx1-ubyte", np.zeros(7, dtype=np.uint8))
    with pytest.raises(UserError, match="60 images but .*t10k-labels-idx1-ubyte has 7 labels"):
        task(folder).setup()


def test_row_width_must_match_input_size(idx_dir: Path) -> None:
    with pytest.raises(UserError, match="rows of 28 pixels, but task.input_size=10"):
        task(idx_dir, input_size=10).setup()


def test_shipped_mnist_loads_with_no_data_dir(offline: list[Path]) -> None:
    """The real digits ship with seqnets: no folder given, nothing downloaded, the published
    counts, and a validation split of a twelfth of the training files."""
    dm = built("task", "mnist", val_size=1 / 12)
    dm.prepare_data()
    dm.setup()
    assert offline == []
    assert [len(dm.splits[s][1]) for s in ("train", "val", "test")] == [55_000, 5_000, 10_000]
    images, labels = dm.splits["test"]
    assert images.shape == (10_000, 28, 28)
    assert labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert torch.bincount(labels).tolist() == [
        980,
        1135,
        1032,
        1010,
        982,
        892,
        958,
        1028,
        974,
        1009,
    ]
    report = dm.format_predictions(
        [labels[:5], labels[5:10]], {"test_acc": 0.9871, "test_samples": 10_000}
    )
    assert report.splitlines() == [
        "Predicted: 7 2 1 0 4 1 4 9 5 9",
        "True:      7 2 1 0 4 1 4 9 5 9",
        "Test accuracy on the 10000 test images: 98.71 %",
    ]


def test_unknown_dataset_is_refused(tmp_path: Path) -> None:
    mnist = built("task", "mnist", _partial_=True)  # the class itself raises, unwrapped
    with pytest.raises(
        UserError, match=r"task.dataset='KMNIST': expected one of \['FashionMNIST', 'MNIST'\]"
    ):
        mnist(name="x", dataset="KMNIST", data_dir=str(tmp_path))


def test_write_split_helper_round_trips(tmp_path: Path) -> None:
    images = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    write_split(tmp_path, "t10k", images, np.array([3, 4], dtype=np.uint8), gz=True)
    write_split(tmp_path, "train", images, np.array([3, 4], dtype=np.uint8), gz=False)
    dm = task(tmp_path, val_size=1)
    dm.setup()
    assert dm.splits["test"][1].tolist() == [3, 4]
    assert torch.equal(dm.splits["test"][0], torch.from_numpy(images))


def test_normalize_gives_zero_mean_unit_variance_over_training_pixels(idx_dir: Path) -> None:
    dm = task(idx_dir, normalize=True, batch_size=200)
    dm.setup()
    x, _ = dm.on_after_batch_transfer(next(iter(dm.train_dataloader())), 0)
    assert abs(x.mean().item()) < 1e-4 and abs(x.std().item() - 1) < 1e-3
    test_x, _ = dm.on_after_batch_transfer(next(iter(dm.test_dataloader())), 0)
    raw = dm.splits["test"][0][: len(test_x)].float()
    torch.testing.assert_close(test_x, (raw - dm.pixel_stats[0]) / dm.pixel_stats[1])


@pytest.mark.parametrize("order", ["row", "pixel", "permuted"])
def test_orders_feed_rows_or_pixels(idx_dir: Path, order: str) -> None:
    dm = task(idx_dir, order=order, input_size=28 if order == "row" else 1)
    dm.setup()
    images, labels = next(iter(dm.train_dataloader()))
    x, _ = dm.on_after_batch_transfer((images, labels), 0)
    flat = images.flatten(1).float() / 255
    if order == "row":
        torch.testing.assert_close(x, images.float() / 255)
    elif order == "pixel":
        assert x.shape == (20, 784, 1)
        torch.testing.assert_close(x[..., 0], flat)
    else:
        assert x.shape == (20, 784, 1) and not torch.equal(x[..., 0], flat)
        torch.testing.assert_close(x[..., 0], flat[:, dm.permutation])


def test_the_permutation_is_fixed_by_its_seed_and_saved(idx_dir: Path) -> None:
    first, again, other = (
        task(idx_dir, order="permuted", input_size=1, permutation_seed=s) for s in (3, 3, 4)
    )
    assert torch.equal(first.permutation, again.permutation)
    assert not torch.equal(first.permutation, other.permutation)
    assert sorted(first.permutation.tolist()) == list(range(784))
    other.load_state_dict(first.state_dict())  # a checkpoint brings its run's permutation
    assert torch.equal(other.permutation, first.permutation)


def test_an_image_to_predict_is_read_in_the_trained_order(idx_dir: Path, tmp_path: Path) -> None:
    dm = task(idx_dir, order="permuted", input_size=1)
    pixels = np.arange(784, dtype=np.uint8).reshape(28, 28)
    Image.fromarray(pixels).save(tmp_path / "digit.png")
    x = dm.encode(str(tmp_path / "digit.png"))
    assert x.shape == (1, 784, 1)
    expected = torch.from_numpy(pixels).flatten().float()[dm.permutation] / 255
    torch.testing.assert_close(x[0, :, 0], expected)


def test_a_share_of_the_training_files_validates(tmp_path: Path) -> None:
    dm = task(make_idx_dir(tmp_path, n_train=600), val_size=1 / 12)
    dm.setup()
    assert [len(dm.splits[s][1]) for s in ("train", "val")] == [550, 50]


def test_a_share_that_leaves_no_training_images_is_refused(idx_dir: Path) -> None:
    with pytest.raises(UserError, match=r"task.val_size=0.999: 240 of the 240 training images"):
        task(idx_dir, val_size=0.999).setup()


def test_a_given_data_dir_wins_over_the_shipped_copy(idx_dir: Path) -> None:
    dm = task(idx_dir)
    dm.setup()
    assert len(dm.splits["test"][1]) == 60  # the toy set's, not MNIST's 10,000


def test_a_damaged_shipped_file_is_one_line(tmp_path: Path, monkeypatch) -> None:
    shipped = tmp_path / "shipped"
    shutil.copytree(MNIST_DIR, shipped)
    damaged = shipped / "t10k-labels-idx1-ubyte.gz"
    damaged.write_bytes(damaged.read_bytes()[:100])
    monkeypatch.setitem(KNOWN_DIRS, "MNIST", shipped)
    with pytest.raises(UserError, match=f"^{damaged}: corrupt or truncated IDX file"):
        built("task", "mnist").setup()


def test_stored_digits_reach_the_model_exactly_as_before(tmp_path: Path) -> None:
    """An image as MNIST stores it (28 x 28, white on black) is not reframed: the shipped test
    digits give the model the very input they gave it before preprocessing existed."""
    dm = built("task", "mnist")
    digits = read_idx(KNOWN_DIRS["MNIST"] / "t10k-images-idx3-ubyte.gz", read_image_file)[:100]
    for digit in digits:
        Image.fromarray(digit.numpy()).save(tmp_path / "digit.png")
        x = dm.encode(str(tmp_path / "digit.png"))
        torch.testing.assert_close(x, digit.unsqueeze(0).float() / 255, rtol=0, atol=0)
        assert dm.reading == "taken as it is (28 x 28 on a dark page, as MNIST)"
