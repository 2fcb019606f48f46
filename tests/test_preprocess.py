"""predict_image on real MNIST test digits delivered in every encoding people use."""

import io

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from digitclf.errors import ImageError, NoDigitError
from digitclf.imaging import decode as imageio
from digitclf.imaging import preprocess as preprocess_module
from digitclf.imaging.decode import decode_image, decode_pixels, to_unit
from digitclf.imaging.preprocess import (
    _close_pen_skips,
    _dilate_disk,
    _stroke_width_estimate,
    ink_map,
    preprocess,
    stroke_width,
    to_mnist,
)
from digitclf.training import synth
from digitclf.training.data import load_mnist

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
    **synth.ENCODINGS,
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


def test_a_bare_stroke_is_all_ink_alone_but_a_digit_as_part_of_an_image():
    stroke = np.ones((60, 8), np.float32)  # a 1, cropped to its ink as a number's part is
    with pytest.raises(NoDigitError, match="ink"):
        to_mnist(stroke)
    x = to_mnist(stroke, image_pixels=stroke.size * 10)
    assert x.shape == (28, 28) and x.max() == 255
    assert np.array_equal(x, to_mnist(np.pad(stroke, 31)))  # as if it lay in a larger image


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


def test_decode_pixels_keeps_8_bit_images_and_agrees_with_decode_image(digits):
    ink = _canvas(digits[0][0], 0)
    png = _png(Image.fromarray(synth.canvas_rgba(ink)), format="PNG")
    assert decode_pixels(png).dtype == np.uint8
    assert decode_pixels(_sixteen_bit(ink)).dtype == np.float32
    for source in (png, synth.ink_on_paper(ink), _sixteen_bit(ink), _palette(ink), ink * 255.0):
        np.testing.assert_array_equal(to_unit(decode_pixels(source)), decode_image(source))


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA", "LA", "P", "I;16"])
@pytest.mark.parametrize("interlace", [0, 1])
def test_every_png_decodes_to_what_pillow_reads(digits, mode, interlace):
    """Plain 8-bit PNGs take the fast libspng path, the rest Pillow's: the same pixels."""
    ink = _canvas(digits[0][2], 2)
    picture = Image.fromarray(synth.canvas_rgba(ink)).convert(mode)
    png = _png(picture, format="PNG", interlace=interlace)
    from_pillow = decode_pixels(Image.open(io.BytesIO(png)))  # a PIL image: Pillow's path
    np.testing.assert_array_equal(decode_pixels(png), from_pillow)
    assert decode_pixels(png).shape[:2] == ink.shape
    assert (imageio._plain_png(png) is not None) == (mode in ("L", "RGB", "RGBA"))


def test_a_png_with_a_transparent_colour_keeps_its_transparency(digits):
    ink = (_canvas(digits[0][4], 4) > 0.5).astype(np.uint8) * 255
    picture = Image.fromarray(np.stack([ink] * 3, axis=-1), "RGB")
    pixels = decode_pixels(_png(picture, format="PNG", transparency=(0, 0, 0)))
    assert pixels.shape[2] == 4 and (pixels[..., 3] == ink).all()  # the black background is clear


def test_files_on_disk_decode_as_their_bytes_do(digits, tmp_path):
    ink = _canvas(digits[0][5], 5)
    for name, data in (("a.png", _png(Image.fromarray(synth.canvas_rgba(ink)), format="PNG")),
                       ("a.jpg", _png(Image.fromarray(synth.ink_on_paper(ink)), format="JPEG"))):
        (tmp_path / name).write_bytes(data)
        np.testing.assert_array_equal(decode_pixels(tmp_path / name), decode_pixels(data))
    (tmp_path / "notes.txt").write_text("not an image")
    with pytest.raises(ImageError, match="not an image"):
        decode_image(tmp_path / "notes.txt")


def test_a_broken_png_is_an_image_error(digits):
    png = _png(Image.fromarray(synth.canvas_rgba(_canvas(digits[0][1], 1))), format="PNG")
    broken = png[:60] + bytes(len(png) - 60)
    with pytest.raises(ImageError, match="cannot be decoded|not an image"):
        decode_image(broken)


@pytest.mark.parametrize("canvas, height, pen", [
    ((280, 280), 0.4, None), ((280, 280), 0.9, 2.0), ((283, 281), 0.7, 12.0), ((1500, 1100), 0.5, None),
])
def test_preprocess_is_exactly_to_mnist_of_the_ink_map(digits, canvas, height, pen):
    """preprocess makes the ink map of the region around the ink only: the same result, for
    less work (read_number relies on it: one digit reads as predict_image reads it)."""
    for i, digit in enumerate(digits[0][:6]):
        ink = synth.render(digit, canvas=canvas, height=height, centre=(0.4 + 0.04 * i, 0.6),
                           pen=pen and pen * canvas[0] / 280)
        for encode in synth.ENCODINGS.values():
            image = encode(ink)
            np.testing.assert_array_equal(preprocess(image), to_mnist(ink_map(decode_image(image))))


def test_specks_far_from_and_next_to_the_digit_are_dropped(digits):
    ink = synth.render(digits[0][0], height=0.9)
    far = ink.copy()
    far[3:6, 272:275] = 1.0  # a dot in a corner: outside the region worked on
    near = ink.copy()
    rows, cols = np.nonzero(ink > 0.5)
    for k in range(6):  # single-pixel dust beside the digit, inside that region
        near[rows.min() + 25 * k, cols.min() - 3 - (k % 2) * 2] = 1.0
    clean = preprocess(synth.ink_on_paper(ink))
    np.testing.assert_array_equal(preprocess(synth.ink_on_paper(far)), clean)
    np.testing.assert_array_equal(preprocess(synth.ink_on_paper(near)), clean)


def test_dust_on_a_big_blank_page_is_not_a_digit():
    rng = np.random.default_rng(3)
    page = np.full((600, 800), 240, np.uint8)
    page[rng.random(page.shape) > 0.997] = 30  # scattered single dark pixels
    with pytest.raises(NoDigitError):
        preprocess(page)


def test_disk_dilation_equals_grey_dilation_with_the_disk(digits):
    work = np.pad(synth.render(digits[0][1], canvas=(80, 80), pen=3.0), 10)
    for radius in (0.4, 1.0, 2.3, 3.5, 5.6):
        reach = int(radius) + 1
        yy, xx = np.mgrid[-reach : reach + 1, -reach : reach + 1]
        disk = yy**2 + xx**2 <= radius**2 + 0.5
        np.testing.assert_array_equal(_dilate_disk(work, radius),
                                      ndimage.grey_dilation(work, footprint=disk))


def test_stroke_width_estimate_is_close_to_the_euclidean_one(digits):
    for i, digit in enumerate(digits[0]):
        for pen in (3.0, 6.0, 12.0):
            mask = synth.render(digit, canvas=(100, 100), height=0.8, pen=pen,
                                slant_deg=10.0 * (i % 3 - 1)) > 0.5
            assert _stroke_width_estimate(mask) == pytest.approx(stroke_width(mask), rel=0.04)


def _half_rings(gap: int) -> np.ndarray:
    """A ring (a 0) at the preprocessing's work size, cut into left and right halves by a
    vertical band `gap` pixels wide."""
    yy, xx = np.mgrid[0:100, 0:100] - 50.0
    ring = (np.hypot(yy, xx) > 25) & (np.hypot(yy, xx) < 36)
    return (ring & (np.abs(xx) >= gap / 2)).astype(np.float32)


def test_a_pen_skip_between_two_pieces_is_closed():
    bridged = _close_pen_skips(_half_rings(gap=4))
    _, count = ndimage.label(bridged > 0.5, np.ones((3, 3)))
    assert count == 1
    holes, _ = ndimage.label(bridged <= 0.5)
    assert holes[50, 50] != holes[0, 0]  # the ring is closed around its middle


def test_gaps_wider_than_a_pen_skip_and_gaps_within_one_piece_stay_open():
    apart = _half_rings(gap=14)
    np.testing.assert_array_equal(_close_pen_skips(apart), apart)
    open_ring = _half_rings(gap=4)
    open_ring[50:] = _half_rings(gap=0)[50:]  # cut at the top only: one piece, a C
    np.testing.assert_array_equal(_close_pen_skips(open_ring), open_ring)


def test_broken_digits_are_read_better_with_their_pen_skips_closed(default_predictor, monkeypatch):
    images, labels = load_mnist("test")
    rng = np.random.default_rng(0)
    chosen = rng.choice(len(images), 1500, replace=False)
    broken = [np.pad(synth._break(synth._tile(images[i], 60), rng), 30) for i in chosen]

    def errors() -> int:
        x = np.stack([to_mnist(ink) for ink in broken])
        return int((default_predictor.predict(x).argmax(axis=1) != labels[chosen]).sum())

    bridged = errors()
    monkeypatch.setattr(preprocess_module, "_close_pen_skips", lambda work: work)
    assert bridged < errors()
