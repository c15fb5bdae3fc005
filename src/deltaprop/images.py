"""Turn a picture of a handwritten digit into an input row like MNIST's.

MNIST digits are white on black, 28x28, values in [0, 1], and were made by fitting each
digit's bounding box into 20x20 pixels (keeping its aspect ratio) and placing that box in a
28x28 field so that the digit's centre of mass lies at the centre. ``image_to_input`` does the
same to any image Pillow reads: it converts it to grayscale (transparent parts become
background), inverts it when its background is light, and, unless it already has the target
size, crops, scales and centres it as above. Pillow is imported only when an image is read.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np

from .errors import DataError, DataNotFoundError, MissingDependencyError
from .files import open_regular

MNIST_SIDE = 28
MNIST_BOX = 20  # MNIST fits each digit's bounding box into 20x20 pixels
MAX_PIXELS = 4096 * 4096  # a phone photo fits; a decompression bomb does not
INK = 0.1  # pixels brighter than this fraction of the brightest one belong to the digit


def image_to_input(path: str | Path, n_inputs: int = MNIST_SIDE * MNIST_SIDE) -> np.ndarray:
    """Read an image file and return one float32 input row of ``n_inputs`` values in [0, 1].

    ``n_inputs`` must be a square (784 = 28x28 for MNIST, 64 = 8x8 for scikit-learn's digits).
    An image of exactly that side is only converted to grayscale, inverted if need be and
    scaled; any other size is fitted as MNIST digits were (see the module docstring).
    """
    side = math.isqrt(n_inputs)
    if side * side != n_inputs:
        raise DataError(
            f"the model takes {n_inputs} inputs, which is not a square image (784 = 28x28): "
            "give its inputs as .npy or .csv instead of an image"
        )
    pixels = white_on_black(read_grayscale(path))
    if pixels.max() <= pixels.min():
        raise DataError(f"{path} is a single flat color: there is no digit to read")
    if pixels.shape != (side, side):
        pixels = _fit(pixels, side)
    return pixels.reshape(-1).astype(np.float32)


def read_grayscale(path: str | Path) -> np.ndarray:
    """Return the image at ``path`` as a float64 ``(H, W)`` array in [0, 1] (0 is black).

    Images of more than :data:`MAX_PIXELS` pixels are refused from their header, before any
    pixel is decoded: a small compressed file can declare billions (a decompression bomb).
    """
    image_module, ops = _pillow()
    try:
        with open_regular(path, "image", DataError) as file, warnings.catch_warnings():
            # Pillow warns from 89 megapixels on; MAX_PIXELS refuses far smaller images first.
            warnings.simplefilter("ignore", image_module.DecompressionBombWarning)
            with image_module.open(file) as image:
                _check_pixels(path, *image.size)
                image.seek(0)  # the first frame of an animation
                image = ops.exif_transpose(image)
                return _gray_values(image, image_module)
    except DataNotFoundError:
        raise DataNotFoundError(f"image {path} does not exist") from None
    except DataError:  # raised above, about the file itself: no rewording
        raise
    except image_module.DecompressionBombError as error:
        raise DataError(f"{path} is refused as a decompression bomb: {error}") from None
    except (image_module.UnidentifiedImageError, OSError, ValueError, EOFError) as error:
        raise DataError(f"{path} is not an image Pillow can read ({error})") from None


def _check_pixels(path: str | Path, width: int, height: int) -> None:
    if width * height > MAX_PIXELS:
        raise DataError(
            f"{path} is {width}x{height} pixels, more than the {MAX_PIXELS:,} read for a digit "
            f"(4096x4096): scale the picture down (digits are read at {MNIST_SIDE}x{MNIST_SIDE})"
        )


def white_on_black(pixels: np.ndarray) -> np.ndarray:
    """Invert ``pixels`` (values in [0, 1]) when the background, read on the border, is light."""
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    return 1.0 - pixels if np.median(border) > 0.5 else pixels


def _pillow():
    try:
        from PIL import Image, ImageOps
    except ImportError:
        raise MissingDependencyError(
            "reading images needs Pillow: pip install 'deltaprop[cli]' (or pip install pillow)"
        ) from None
    return Image, ImageOps


def _gray_values(image, image_module) -> np.ndarray:
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):  # 16-bit or float grayscale
        values = np.asarray(image, dtype=np.float64)
        top = values.max()
        return values / top if top > 0 else values
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        image = _flatten_alpha(image.convert("RGBA"), image_module)
    return np.asarray(image.convert("L"), dtype=np.float64) / 255.0


def _flatten_alpha(image, image_module):
    """Put the opaque parts on a background that contrasts with them (dark ink → white)."""
    rgba = np.asarray(image)
    opaque = rgba[..., 3] > 127
    luminance = rgba[..., :3].mean(axis=-1)
    dark_ink = not opaque.any() or luminance[opaque].mean() < 128
    color = (255, 255, 255, 255) if dark_ink else (0, 0, 0, 255)
    background = image_module.new("RGBA", image.size, color)
    return image_module.alpha_composite(background, image).convert("RGB")


def _fit(pixels: np.ndarray, side: int) -> np.ndarray:
    """Crop to the digit, scale its box into side·20/28 pixels and centre its mass."""
    image_module, _ = _pillow()
    rows, cols = np.nonzero(pixels > INK * pixels.max())
    digit = pixels[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    box = max(1, round(side * MNIST_BOX / MNIST_SIDE))
    scale = box / max(digit.shape)
    height, width = (max(1, round(n * scale)) for n in digit.shape)
    resized = image_module.fromarray(digit.astype(np.float32)).resize(
        (width, height), image_module.Resampling.LANCZOS
    )
    digit = np.clip(np.asarray(resized, dtype=np.float64), 0.0, 1.0)
    field = np.zeros((side, side))
    # Place the box so that its centre of mass lands on the field's centre, inside the field.
    mass = digit.sum()
    centre = np.array(digit.shape) / 2 if mass == 0 else _centre_of_mass(digit, mass)
    top, left = (
        int(np.clip(round(side / 2 - c), 0, side - n)) for c, n in zip(centre, digit.shape)
    )
    field[top : top + height, left : left + width] = digit
    return field


def _centre_of_mass(digit: np.ndarray, mass: float) -> np.ndarray:
    rows, cols = np.indices(digit.shape)
    return np.array([(rows * digit).sum(), (cols * digit).sum()]) / mass + 0.5
