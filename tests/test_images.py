"""Digit images become MNIST-like input rows, whatever their size, mode or background."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import require

import deltaprop as dp
from deltaprop.images import image_to_input

Image = require("PIL.Image")
ImageDraw = require("PIL.ImageDraw")


def digit() -> np.ndarray:
    """A 28x28 uint8 '7'-like stroke, white on black, off-centre like a sloppy scan."""
    pixels = np.zeros((28, 28), np.uint8)
    pixels[6:9, 6:20] = 255
    for row in range(9, 24):
        pixels[row, 18 - (row - 9) // 2 : 21 - (row - 9) // 2] = 200
    return pixels


def test_an_mnist_sized_png_is_read_as_is(tmp_path):
    Image.fromarray(digit()).save(tmp_path / "d.png")
    assert np.array_equal(image_to_input(tmp_path / "d.png"), digit().reshape(-1) / np.float32(255))


@pytest.mark.parametrize("mode", ["RGB", "L", "RGBA", "P"])
def test_black_on_white_in_any_mode_is_inverted(tmp_path, mode):
    Image.fromarray(255 - digit()).convert(mode).save(tmp_path / "d.png")
    expected = digit().reshape(-1) / 255
    assert np.allclose(image_to_input(tmp_path / "d.png"), expected, atol=1e-6)


def test_transparent_background_with_dark_ink(tmp_path):
    rgba = np.zeros((28, 28, 4), np.uint8)  # transparent everywhere
    rgba[..., 3] = digit()  # black ink, opaque where the digit is
    Image.fromarray(rgba, "RGBA").save(tmp_path / "d.png")
    pixels = image_to_input(tmp_path / "d.png").reshape(28, 28)
    assert np.allclose(pixels, digit() / 255, atol=1 / 255)


def test_a_large_photo_like_image_is_fitted_into_20x20_and_centred(tmp_path):
    image = Image.new("RGB", (300, 200), "white")
    ImageDraw.Draw(image).line([(40, 30), (70, 170)], fill=(30, 30, 30), width=15)
    image.save(tmp_path / "d.jpg")
    pixels = image_to_input(tmp_path / "d.jpg").reshape(28, 28)
    assert pixels.dtype == np.float32 and pixels.min() >= 0 and pixels.max() <= 1
    ink_rows, ink_cols = np.nonzero(pixels > 0.1)
    height = ink_rows.max() - ink_rows.min() + 1
    assert 19 <= height <= 21 and ink_cols.max() - ink_cols.min() + 1 <= 21  # tall side fills
    rows, cols = np.indices(pixels.shape)
    mass = np.array([(rows * pixels).sum(), (cols * pixels).sum()]) / pixels.sum()
    assert np.allclose(mass, 13.5, atol=1.0)  # the centre of mass in the middle


def test_other_square_input_sizes(tmp_path):
    Image.fromarray(digit()).save(tmp_path / "d.png")
    assert image_to_input(tmp_path / "d.png", 64).shape == (64,)


def test_errors(tmp_path):
    Image.fromarray(digit()).save(tmp_path / "d.png")
    with pytest.raises(dp.DataError, match="784 = 28x28"):
        image_to_input(tmp_path / "d.png", 10)
    Image.new("L", (28, 28), 255).save(tmp_path / "blank.png")
    with pytest.raises(dp.DataError, match="single flat color"):
        image_to_input(tmp_path / "blank.png")
    (tmp_path / "fake.png").write_bytes(b"GIF89a nonsense")
    with pytest.raises(dp.DataError, match="not an image Pillow can read"):
        image_to_input(tmp_path / "fake.png")
    with pytest.raises(dp.DataNotFoundError, match="does not exist"):
        image_to_input(tmp_path / "missing.png")
