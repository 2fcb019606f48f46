"""predict_image on real MNIST test digits delivered in every encoding people use."""

import io

import numpy as np
import pytest
from PIL import Image

from digitclf import synth
from digitclf.data import load_mnist
from digitclf.errors import ImageError, NoDigitError
from digitclf.imageio import decode_image
from digitclf.preprocess import preprocess

SAMPLES = 12  # test digits per encoding


@pytest.fixture(scope="module")
def digits():
    images, labels = load_mnist("test")
    return images[:SAMPLES], labels[:SAMPLES]


def _canvas(digit, seed):
    rng = np.random.default_rng(seed)
    return synth.render(digit, height=rng.uniform(0.4, 0.9),
                        centre=(rng.uniform(0.35, 0.65), rng.uniform(0.35, 0.65)))


def _png(image: Image.Image, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, **options)
    return buffer.getvalue()


def _sixteen_bit(ink):
    return Image.fromarray((65535 - ink * 60000).astype(np.uint16))  # dark ink on white, 16-bit


def _cmyk_jpeg(ink):
    rgb = Image.fromarray(synth.ink_on_paper(ink)).convert("RGB")
    return Image.open(io.BytesIO(_png(rgb.convert("CMYK"), format="JPEG", quality=92)))


def _palette(ink):
    return Image.fromarray(synth.ballpoint_photo(ink)).convert("P", palette=Image.ADAPTIVE, colors=32)


def _exif_rotated_jpeg(ink):
    """A photo stored sideways with an EXIF tag saying 'rotate 90 degrees clockwise to view'."""
    upright = Image.fromarray(synth.ballpoint_photo(ink))
    stored = upright.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 270 (i.e. 90 clockwise) on display
    return _png(stored, format="JPEG", quality=90, exif=exif)


DELIVERIES = {
    **{name: (lambda enc: lambda ink: enc(ink))(enc) for name, enc in synth.ENCODINGS.items()},
    "photo_jpeg_bytes": lambda ink: _png(Image.fromarray(synth.ballpoint_photo(ink)), format="JPEG"),
    "sixteen_bit_png": _sixteen_bit,
    "cmyk_jpeg": _cmyk_jpeg,
    "palette_png": _palette,
    "exif_rotated_jpeg": _exif_rotated_jpeg,
    "white_on_black_float": lambda ink: ink.astype(np.float64),
    "rgb_array_with_alpha_opaque": lambda ink: np.dstack(
        [synth.ink_on_paper(ink)] * 3 + [np.full(ink.shape, 255, np.uint8)]),
}


@pytest.mark.parametrize("delivery", sorted(DELIVERIES))
def test_digit_is_read_in_every_encoding(default_predictor, digits, delivery):
    images, labels = digits
    read = [default_predictor.predict_image(DELIVERIES[delivery](_canvas(img, i))).digit
            for i, img in enumerate(images)]
    assert read == labels.tolist()


def test_file_path_and_pil_inputs(default_predictor, digits, tmp_path):
    images, labels = digits
    path = tmp_path / "seven.png"
    Image.fromarray(synth.ink_on_paper(_canvas(images[0], 0))).save(path)
    assert default_predictor.predict_image(path).digit == labels[0]
    assert default_predictor.predict_image(str(path)).digit == labels[0]
    assert default_predictor.predict_image(Image.open(path)).digit == labels[0]


def test_exif_orientation_is_applied():
    ink = np.zeros((40, 60))
    ink[5:10, 5:55] = 1.0  # a horizontal bar in the upright picture
    assert decode_image(_exif_rotated_jpeg(ink)).shape[:2] == (40, 60)


def test_model_input_is_exactly_what_the_model_sees(default_predictor, digits):
    result = default_predictor.predict_image(synth.canvas_rgba(_canvas(digits[0][3], 3)))
    assert result.model_input.shape == (28, 28) and result.model_input.dtype == np.float32
    direct = default_predictor.model(result.model_input[None], training=False).numpy()[0]
    np.testing.assert_allclose(direct, result.probabilities, atol=1e-5)
    assert result.digit == int(result.probabilities.argmax())
    assert result.confidence == pytest.approx(float(result.probabilities.max()))


def test_preprocessing_mnist_itself_is_nearly_the_identity(default_predictor):
    """An MNIST digit given as an image must read like the raw MNIST array."""
    images, labels = load_mnist("test")
    subset = slice(0, 300)
    via_images = np.array([default_predictor.predict_image(img).digit for img in images[subset]])
    assert (via_images == labels[subset]).mean() >= 0.99


def test_predict_is_batched_and_normalised(default_predictor):
    images, labels = load_mnist("test")
    probs = default_predictor.predict(images)
    assert probs.shape == (10000, 10) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    assert (probs.argmax(axis=1) == labels).mean() >= 0.996


@pytest.mark.parametrize("image, message", [
    (np.zeros((280, 280), np.uint8), "blank"),
    (np.full((280, 280), 255, np.uint8), "blank"),
    (np.zeros((280, 280, 4), np.uint8), "blank"),
    (np.full((100, 100, 3), 30, np.uint8), "blank"),
])
def test_blank_images_raise_no_digit(image, message):
    with pytest.raises(NoDigitError, match=message):
        preprocess(image)


def test_single_pixel_and_speck_raise_no_digit():
    one_pixel = np.zeros((280, 280), np.uint8)
    one_pixel[140, 140] = 255
    with pytest.raises(NoDigitError, match="pixel"):
        preprocess(one_pixel)
    speck = np.full((280, 280), 255, np.uint8)
    speck[100:102, 50:52] = 0
    with pytest.raises(NoDigitError):
        preprocess(speck)


def test_all_ink_raises_no_digit():
    mostly_ink = np.full((200, 200), 255, np.uint8)
    mostly_ink[:20, :20] = 0
    with pytest.raises(NoDigitError, match="ink"):
        preprocess(mostly_ink)


@pytest.mark.parametrize("source, message", [
    (b"definitely not an image", "not an image"),
    (np.zeros((10, 10, 2)), "shape"),
    (np.array([["a"]]), "dtype"),
    (np.full((5, 5), np.nan), "NaN"),
    (12345, "cannot read an image from int"),
    ("no/such/file.png", "no such file"),
])
def test_bad_inputs_raise_image_error(source, message):
    with pytest.raises(ImageError, match=message):
        decode_image(source)


def test_decompression_bomb_is_refused_before_decoding():
    bomb = _png(Image.new("1", (10000, 10000)), format="PNG")  # 100 Mpx, a few kB on disk
    assert len(bomb) < 100_000
    with pytest.raises(ImageError, match="allowed|too large"):
        decode_image(bomb)
