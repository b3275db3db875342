"""Images as people draw or photograph them, brought into the form of the data set a model
trained on (light ink on a black 28 x 28 page, framed as MNIST or Fashion-MNIST framed theirs),
so `predict` reads them as it reads the test set."""

from dataclasses import dataclass

import numpy as np
from PIL import Image

from seqnets.errors import UserError

SIDE = 28  # MNIST and Fashion-MNIST images are 28 x 28


@dataclass(frozen=True)
class Framing:
    """How a data set framed its images: the longer side of the fitted object, and whether it
    was centred by its centre of mass or by its bounding box."""

    box: int
    by_mass: bool
    thing: str


# MNIST fitted each digit's ink into 20 x 20 and put its centre of mass at the middle of the
# 28 x 28 frame; Fashion-MNIST fitted each product to the whole frame and centred it.
FRAMINGS = {
    "MNIST": Framing(20, True, "digit"),
    "FashionMNIST": Framing(SIDE, False, "object"),
}
INK = 0.25  # ink: pixels over this share of the way from the page to the brightest pixel
MIN_CONTRAST = 24.0  # grey levels of 255 between the page and the brightest pixel
MIN_INK_SHARE = 0.0005  # of the image's pixels: less is a speck, not a drawing


def load_grey(path: str) -> np.ndarray:
    """The image as grey levels 0-255, transparent pixels composited on a page first."""
    try:
        with Image.open(path) as image:
            if not image.has_transparency_data:
                return np.asarray(image.convert("L"), dtype=np.float64)
            rgba = image.convert("RGBA")
    except (OSError, ValueError) as err:
        raise UserError(f"input={path}: not a readable image ({err})") from None
    alpha = np.asarray(rgba.getchannel("A"), dtype=np.float64) / 255
    return composite(np.asarray(rgba.convert("L"), dtype=np.float64), alpha)


def composite(grey: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Lay the opaque pixels on a page of the opposite shade: ink drawn on a transparent
    background stays visible, whatever its colour."""
    opaque = (grey * alpha).sum() / max(alpha.sum(), 1.0)
    page = 0.0 if opaque > 127.5 else 255.0
    return grey * alpha + page * (1 - alpha)


def page_and_contrast(grey: np.ndarray) -> tuple[float, float]:
    """The page's grey level, the median of the outermost pixels whatever is drawn in the
    middle, and how far the brightest pixel stands from it."""
    ring = np.concatenate([grey[0], grey[-1], grey[1:-1, 0], grey[1:-1, -1]])
    page = float(np.median(ring))
    return page, float(grey.max()) - page


def white_on_black(grey: np.ndarray) -> tuple[np.ndarray, bool]:
    """The data sets store light ink on a black page: a light page is inverted (and said so)."""
    light = page_and_contrast(grey)[0] > 127.5
    return (255 - grey if light else grey), light


def check_ink(grey: np.ndarray, path: str, thing: str) -> None:
    """Refuse an image with (almost) nothing on it rather than guess at it confidently."""
    page, contrast = page_and_contrast(grey)
    share = float((grey > page + INK * contrast).mean()) if contrast > 0 else 0.0
    if contrast < MIN_CONTRAST or share < MIN_INK_SHARE:
        raise UserError(
            f"input={path}: blank or nearly blank (contrast {contrast:.0f} of 255 grey levels, "
            f"ink on {100 * share:.2f} % of it); expected a {thing} drawn in a shade that "
            "stands out from its background"
        )


def levels(grey: np.ndarray) -> np.ndarray:
    """The page to 0 and the brightest ink to 255, as in the data sets, whatever the lighting."""
    page, contrast = page_and_contrast(grey)
    return np.clip((grey - page) / contrast, 0, 1) * 255


def crop_to_ink(ink: np.ndarray) -> np.ndarray:
    """The bounding box of the ink: where the object is, whatever margin was drawn around it."""
    rows, cols = np.nonzero(ink > INK * 255)
    return ink[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]


def fit(ink: np.ndarray, box: int) -> np.ndarray:
    """Scaled (antialiased) so the longer side is `box` pixels, the aspect ratio kept."""
    height, width = ink.shape
    scale = box / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    fitted = Image.fromarray(ink.astype(np.float32)).resize(size, Image.Resampling.LANCZOS)
    return np.asarray(fitted).clip(0, 255)


def centre_of_mass(image: np.ndarray) -> np.ndarray:
    """Row and column of the ink's weighted mean position."""
    rows, cols = np.indices(image.shape)
    return np.array([(image * rows).sum(), (image * cols).sum()]) / image.sum()


def box_centre(image: np.ndarray) -> np.ndarray:
    """Row and column of the middle of the image."""
    return (np.array(image.shape) - 1) / 2


def place(patch: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """A black 28 x 28 frame with the patch's `centre` at (14, 14), to the nearest pixel: the
    point where MNIST's stored digits have their centre of mass."""
    top, left = (int(v) for v in np.round(SIDE / 2 - centre))
    frame = Image.new("F", (SIDE, SIDE))
    frame.paste(Image.fromarray(patch.astype(np.float32)), (left, top))
    return np.asarray(frame)


def frame(ink: np.ndarray, framing: Framing) -> np.ndarray:
    """Cropped, fitted and centred as the data set built its images."""
    patch = fit(crop_to_ink(ink), framing.box)
    return place(patch, centre_of_mass(patch) if framing.by_mass else box_centre(patch))


def read_drawing(path: str, dataset: str) -> tuple[np.ndarray, str]:
    """An image as the data set's 28 x 28 uint8 light-on-black form, and what was done to it.
    An image already in that form (28 x 28, dark page) is taken exactly as it is."""
    framing = FRAMINGS[dataset]
    grey, light = white_on_black(load_grey(path))
    check_ink(grey, path, framing.thing)
    if grey.shape == (SIDE, SIDE) and not light:
        return grey.astype(np.uint8), f"taken as it is (28 x 28 on a dark page, as {dataset})"
    page = "light page inverted to white on black" if light else "dark page kept"
    centred = "centre of mass" if framing.by_mass else "bounding box"
    how = f"{framing.thing} fitted into {framing.box} x {framing.box}, aspect kept"
    pixels = np.round(frame(levels(grey), framing)).astype(np.uint8)
    return pixels, f"{page}; {how}, centred in 28 x 28 by its {centred}"
