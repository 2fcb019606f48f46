"""Bad input, everywhere an image comes in: every kind of file people hand over gets its own
clear answer (an error that says what is wrong, or a correct reading), good files in the same
batch are still read, and memory stays bounded whatever comes in."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO, run_cli
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image, ImageDraw

from digitclf.errors import ImageError, NoDigitError
from digitclf.reading.results import DigitResult, NumberResult
from digitclf.training import synth
from digitclf.training.data import load_mnist

MAX_RSS_BYTES = 1.5 * 2**30


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    images, labels = load_mnist("test")
    return images[:10], labels[:10]


def _encoded(image: Image.Image, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, **options)
    return buffer.getvalue()


def _paper(digit: np.ndarray, canvas: tuple[int, int] = (280, 280), **placement) -> Image.Image:
    """An MNIST digit written in dark ink on white paper."""
    return Image.fromarray(synth.ink_on_paper(synth.render(digit, canvas=canvas, **placement)))


def _exif_rotated_jpeg(upright: Image.Image) -> bytes:
    """A photo stored sideways, with the EXIF tag that says 'turn 90 degrees clockwise to view'."""
    exif = Image.Exif()
    exif[0x0112] = 6
    return _encoded(upright.transpose(Image.Transpose.ROTATE_90), format="JPEG", quality=90, exif=exif)


def _animated_gif(first: Image.Image, second: Image.Image) -> bytes:
    return _encoded(first.convert("P"), format="GIF", save_all=True, append_images=[second.convert("P")],
                    duration=200, loop=0)


def _hard_cases(folder, digits) -> list[tuple[str, bytes, int | str]]:
    """(file name, content, the digit it must read as or words its error must hold)."""
    images, labels = digits
    png = _encoded(_paper(images[0]), format="PNG")
    jpeg = _encoded(_paper(images[1]), format="JPEG", quality=90)
    mostly_ink = np.zeros((200, 200), np.uint8)
    mostly_ink[:20, :20] = 255
    sixteen_bit = (65535 - synth.render(images[2]) * 60000).astype(np.uint16)
    return [
        ("good.png", png, int(labels[0])),
        ("empty.png", b"", "is empty (0 bytes)"),
        ("notes.png", b"shopping list: milk, eggs\n" * 20, "not an image in a format we read"),
        ("cut.png", png[: len(png) // 2], "cut short"),
        ("cut.jpg", jpeg[: len(jpeg) // 2], "cut short"),
        ("bomb.png", _encoded(Image.new("1", (10_000, 10_000)), format="PNG"), "too large"),
        ("blank.png", _encoded(Image.new("L", (300, 200), 255), format="PNG"), "blank"),
        ("dot.png", _encoded(Image.new("L", (1, 1), 0), format="PNG"), "too small"),
        ("ink.png", _encoded(Image.fromarray(mostly_ink), format="PNG"), "of the image is ink"),
        ("deep.png", _encoded(Image.fromarray(sixteen_bit), format="PNG"), int(labels[2])),
        ("cmyk.jpg", _encoded(_paper(images[3]).convert("RGB").convert("CMYK"), format="JPEG"), int(labels[3])),
        ("palette.png", _encoded(_paper(images[4]).convert("P", palette=Image.Palette.ADAPTIVE, colors=16),
                                 format="PNG"), int(labels[4])),
        ("moving.gif", _animated_gif(_paper(images[5]), _paper(images[6])), int(labels[5])),
        ("photo.jpg", _exif_rotated_jpeg(_paper(images[7])), int(labels[7])),
        ("wide.png", _encoded(_paper(images[8], canvas=(200, 9000), height=0.8, centre=(0.9, 0.5)),
                              format="PNG"), int(labels[8])),
        ("tall.png", _encoded(_paper(images[9], canvas=(9000, 200), height=0.02, centre=(0.5, 0.2)),
                              format="PNG"), int(labels[9])),
        ("scan.png", _encoded(Image.new("L", (8000, 6000), 255), format="TIFF", compression="tiff_deflate"),
         "more than the 40,000,000 allowed"),
        ("page.png", _encoded(Image.new("RGB", (3000, 3000), "white"), format="PDF"), "PDF document"),
        ("old.png", _encoded(_paper(images[0]), format="PCX"), "not an image in a format we read (PNG, JPEG"),
        ("good.jpg", jpeg, int(labels[1])),
    ]


def test_every_kind_of_bad_file_gets_its_own_answer_and_good_ones_are_still_read(tmp_path, digits):
    cases = _hard_cases(tmp_path, digits)
    for name, content, _ in cases:
        (tmp_path / name).write_bytes(content)
    (tmp_path / "nothing-here").mkdir()
    paths = [tmp_path / name for name, _, _ in cases] + [tmp_path / "gone.png", tmp_path / "nothing-here"]
    expected = [want for _, _, want in cases] + ["no such file", "no image files in the folder"]
    result = run_cli("predict", "--json", "--model", "default", *map(str, paths))
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["path"] for line in lines] == list(map(str, paths))
    for line, want in zip(lines, expected):
        if isinstance(want, int):
            assert line.get("digit") == want and line["is_digit"], line
        else:
            assert want in line.get("error", "") and "\n" not in line["error"], line


def test_an_empty_folder_is_an_error_not_silence(tmp_path):
    (tmp_path / "scans").mkdir()
    result = run_cli("predict", "--model", "default", str(tmp_path / "scans"))
    assert result.returncode == 1
    assert result.stdout == "" and f"{tmp_path / 'scans'}: error: no image files in the folder" in result.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_an_unreadable_file_and_folder_are_named(tmp_path, digits):
    locked = tmp_path / "locked.png"
    _paper(digits[0][0]).save(locked)
    locked.chmod(0)
    (tmp_path / "private").mkdir()
    (tmp_path / "private").chmod(0)
    try:
        result = run_cli("predict", "--json", "--model", "default", str(locked), str(tmp_path / "private"))
    finally:
        (tmp_path / "private").chmod(0o755)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    first, second = (json.loads(line) for line in result.stdout.splitlines())
    assert "permission denied" in first["error"] and "permission denied" in second["error"]


def test_the_python_api_streams_a_result_or_the_error_for_each_image(default_predictor, tmp_path, digits):
    cases = _hard_cases(tmp_path, digits)
    outcomes = list(default_predictor.predict_images([content for _, content, _ in cases]))
    for (name, _, want), outcome in zip(cases, outcomes, strict=True):
        if isinstance(want, int):
            assert isinstance(outcome, DigitResult) and outcome.digit == want, name
        else:
            assert isinstance(outcome, (ImageError, NoDigitError)), name
            assert want in str(outcome), (name, outcome)
    (tmp_path / "folder").mkdir()
    with pytest.raises(ImageError, match="is a folder, not an image file"):
        default_predictor.predict_image(tmp_path / "folder")
    with pytest.raises(ImageError, match="is empty"):
        default_predictor.read_number(b"")
    with pytest.raises(NoDigitError, match="too small"):
        default_predictor.read_number(np.zeros((1, 1), np.uint8))


def test_an_image_over_the_working_size_is_reduced_as_it_is_decoded(default_predictor, digits):
    """Reduced by an integer factor: its shape says so, and the digit still reads the same."""
    from digitclf.imaging.decode import WORK_PIXELS, decode_pixels

    images, labels = digits
    big = _paper(images[0], canvas=(2400, 2400))  # 5.8 Mpx: halved
    assert 2400 * 2400 > WORK_PIXELS
    for source in (_encoded(big, format="PNG"), _exif_rotated_jpeg(big), np.asarray(big)):
        assert decode_pixels(source).shape[:2] == (1200, 1200)
        assert default_predictor.predict_image(source).digit == labels[0]


def test_memory_stays_bounded_for_the_largest_images_allowed(tmp_path):
    """The largest images allowed, in the costliest encodings, read as one digit and as a
    number by the real CLI: the process never holds more than 1.5 GB."""
    side = 6300  # 39.7 Mpx, just under the limit
    page = Image.new("RGB", (side, side), "white")
    ImageDraw.Draw(page).line([(2000, 1000), (4000, 1000), (2600, 5000)], fill="black", width=300)
    exif = Image.Exif()
    exif[0x0112] = 6
    files = {"rgba.png": lambda p: page.convert("RGBA").save(p),
             "cmyk.jpg": lambda p: page.convert("CMYK").save(p, format="JPEG", exif=exif),
             "deep.tif": lambda p: page.convert("F").save(p, format="TIFF")}
    for name, write in files.items():
        write(tmp_path / name)
    paths = [str(tmp_path / name) for name in files]
    for extra in ([], ["--number"]):
        script = ("import resource, sys\nfrom digitclf.cli import main\nstatus = main(sys.argv[1:])\n"
                  "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, file=sys.stderr)\n"
                  "sys.exit(status)\n")
        result = subprocess.run([sys.executable, "-c", script, "predict", "--model", "default", *extra, *paths],
                                cwd=REPO, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stderr
        assert len(result.stdout.splitlines()) == len(paths)
        assert int(result.stderr.split()[-1]) < MAX_RSS_BYTES


# ----- property-based: whatever comes in, a result or the documented error -----------------------------
def _ink_strokes(draw: st.DrawFn) -> np.ndarray:
    """A canvas of random size with a few random strokes: often a digit-like mark."""
    height, width = draw(st.integers(1, 120)), draw(st.integers(1, 120))
    image = Image.new("L", (width, height), 255)
    pen = ImageDraw.Draw(image)
    coordinate = st.tuples(st.integers(0, width), st.integers(0, height))
    for _ in range(draw(st.integers(0, 4))):
        pen.line([draw(coordinate), draw(coordinate)], fill=draw(st.integers(0, 255)), width=draw(st.integers(1, 12)))
    return np.asarray(image)


ARRAYS = st.one_of(
    hnp.arrays(hnp.scalar_dtypes(), hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=48)),
    hnp.arrays(st.sampled_from([np.uint8, np.uint16, np.int64, np.float32, np.float64, np.bool_]),
               st.tuples(st.integers(1, 90), st.integers(1, 90), st.sampled_from([1, 3, 4]))),
    st.sampled_from([np.float16, np.float32, np.float64]).flatmap(lambda dtype: hnp.arrays(
        dtype, st.tuples(st.integers(1, 60), st.integers(1, 60)),
        elements=hnp.from_dtype(np.dtype(dtype), allow_nan=False, allow_infinity=False))),
    st.composite(_ink_strokes)(),
)


@st.composite
def _damaged_files(draw: st.DrawFn) -> bytes:
    """A real image file of a random format, cut short or with bytes overwritten."""
    pixels = draw(hnp.arrays(np.uint8, st.tuples(st.integers(1, 40), st.integers(1, 40), st.just(3))))
    image = Image.fromarray(pixels)
    fmt = draw(st.sampled_from(["PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP"]))
    data = bytearray(_encoded(image.convert("P") if fmt == "GIF" else image, format=fmt))
    if draw(st.booleans()):  # cut short, often within its header
        data = data[: draw(st.one_of(st.integers(0, 64), st.integers(0, len(data))))]
    for _ in range(draw(st.integers(0, 6))):
        if data:
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data)


BYTES = st.one_of(st.binary(max_size=512), _damaged_files())


def _result_or_documented_error(call, source) -> None:
    try:
        result = call(source)
    except (ImageError, NoDigitError) as e:
        assert str(e) and "\n" not in str(e)
        return
    digits = result.digits if isinstance(result, NumberResult) else (result,)
    assert isinstance(result, (DigitResult, NumberResult)) and digits
    for digit in digits:
        assert 0 <= digit.digit <= 9 and 0 <= digit.confidence <= 1
        assert np.isfinite(digit.probabilities).all() and digit.model_input.shape == (28, 28)


def _property(test):
    """Random arrays and byte strings, and the failures this test found before, kept as examples."""
    test = example(source=_encoded(Image.new("L", (8, 8)), format="PNG")[:20])(test)  # cut in its header
    test = example(source=np.array([[-3e38, 0, 3e38]], np.float32))(test)  # a span over float32's range
    test = example(source=np.array([[1.8e308, -1e292, -1e292, -1e292]]))(test)  # ... and over float64's
    test = given(source=st.one_of(ARRAYS, BYTES))(test)
    return settings(max_examples=60, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow])(test)


@_property
def test_predict_image_returns_a_result_or_the_documented_error(default_predictor, source):
    _result_or_documented_error(default_predictor.predict_image, source)


@_property
def test_read_number_returns_a_result_or_the_documented_error(default_predictor, source):
    _result_or_documented_error(default_predictor.read_number, source)
