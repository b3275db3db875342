import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from seqnets.errors import UserError
from seqnets.tasks.drawings import centre_of_mass, read_drawing, white_on_black


def drawing(size: tuple[int, int] = (280, 200), light_page: bool = True) -> Image.Image:
    """A seven-like stroke drawn off-centre, as a person might: dark on a light page or not."""
    page, ink = (255, 0) if light_page else (0, 255)
    image = Image.new("L", size, page)
    ImageDraw.Draw(image).line([(150, 40), (250, 40), (190, 160)], fill=ink, width=12)
    return image


def read(image: Image.Image, tmp_path: Path, dataset: str = "MNIST") -> tuple[np.ndarray, str]:
    image.save(tmp_path / "drawn.png")
    return read_drawing(str(tmp_path / "drawn.png"), dataset)


def ink_box(pixels: np.ndarray) -> tuple[int, int]:
    """Height and width of the bounding box of the pixels at least half lit."""
    rows, cols = np.nonzero(pixels >= 128)
    return rows.max() - rows.min() + 1, cols.max() - cols.min() + 1


@pytest.mark.parametrize("light_page", [True, False])
def test_the_page_is_inverted_only_when_light(tmp_path: Path, light_page: bool) -> None:
    grey = np.asarray(drawing(light_page=light_page), dtype=np.float64)
    flipped, light = white_on_black(grey)
    assert light is light_page
    assert flipped[0, 0] == 0 and flipped.max() == 255, "white ink on a black page either way"
    pixels, note = read(drawing(light_page=light_page), tmp_path)
    assert note.startswith("light page inverted" if light_page else "dark page kept")
    assert pixels[0, 0] == 0 and pixels.max() == 255


def test_the_centre_of_mass_lands_on_mnists_within_half_a_pixel(tmp_path: Path) -> None:
    pixels, note = read(drawing(), tmp_path)
    assert pixels.shape == (28, 28) and pixels.dtype == np.uint8
    assert np.abs(centre_of_mass(pixels.astype(np.float64)) - 14).max() <= 0.5
    assert note.endswith(
        "digit fitted into 20 x 20, aspect kept, centred in 28 x 28 by its centre of mass"
    )


@pytest.mark.parametrize(("dataset", "box"), [("MNIST", 20), ("FashionMNIST", 28)])
def test_the_ink_is_fitted_with_its_aspect_kept(tmp_path: Path, dataset: str, box: int) -> None:
    bar = Image.new("L", (300, 300), 255)
    ImageDraw.Draw(bar).rectangle([(200, 20), (239, 179)], fill=0)  # 160 tall, 40 wide
    pixels, _ = read(bar, tmp_path, dataset)
    assert ink_box(pixels) == (box, box // 4)
    if dataset == "FashionMNIST":
        columns = np.nonzero(pixels.max(0) >= 128)[0]
        assert abs((columns.min() + columns.max()) / 2 - 14) <= 0.5, "centred by its box"


@pytest.mark.parametrize("ink", [(0, 0, 0), (255, 255, 255)])
def test_a_transparent_page_is_composited_first(tmp_path: Path, ink: tuple[int, int, int]) -> None:
    """Ink of either shade on a transparent page reads as the same ink on an opaque one."""
    stroke = np.asarray(drawing(light_page=False))  # the stroke's coverage, 0-255
    transparent = Image.new("RGBA", stroke.shape[::-1], (*ink, 0))
    transparent.putalpha(Image.fromarray(stroke))
    opaque_page = tuple(255 - v for v in ink)
    opaque = Image.new("RGB", stroke.shape[::-1], opaque_page)
    opaque.paste(ink, mask=Image.fromarray(stroke))
    assert np.array_equal(read(transparent, tmp_path)[0], read(opaque, tmp_path)[0])


@pytest.mark.parametrize(
    "blank",
    [
        Image.new("L", (280, 280), 255),
        Image.new("RGB", (28, 28), (0, 0, 0)),
        Image.fromarray(np.random.default_rng(0).integers(240, 256, (280, 280), np.uint8)),
        Image.fromarray(np.pad(np.zeros((2, 2), np.uint8), 139, constant_values=255)),
    ],
    ids=["white", "black", "faint noise", "a speck"],
)
def test_a_blank_image_is_refused_in_one_line(tmp_path: Path, blank: Image.Image) -> None:
    blank.save(tmp_path / "blank.png")
    with pytest.raises(UserError) as refused:
        read_drawing(str(tmp_path / "blank.png"), "MNIST")
    message = str(refused.value)
    assert "\n" not in message
    assert re.match(
        rf"^input={re.escape(str(tmp_path / 'blank.png'))}: blank or nearly blank \(contrast "
        r"\d+ of 255 grey levels, ink on [\d.]+ % of it\); expected a digit drawn",
        message,
    )
