""""My digits" as a dataset: exported as a zip of PNG files and labels.csv, imported back
whole or not at all, with a sentence for each way a zip can be wrong."""

from __future__ import annotations

import csv
import io
import zipfile

import numpy as np
import pytest
from PIL import Image

from digitclf.errors import DigitclfError
from digitclf.training import mydigits
from digitclf.training.data import load_mnist


@pytest.fixture(scope="module")
def mnist_test():
    images, labels = load_mnist("test")
    return images[:8], labels[:8]


def _png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def _zip(entries: dict[str, bytes | str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def _dataset(mnist_test, count: int = 3, **extra: bytes | str) -> dict[str, bytes | str]:
    images, labels = mnist_test
    entries: dict[str, bytes | str] = {f"d{i}.png": _png(images[i]) for i in range(count)}
    entries["labels.csv"] = "file,label\n" + "".join(f"d{i}.png,{labels[i]}\n" for i in range(count))
    return {**entries, **extra}


def test_export_then_import_round_trip(tmp_path, mnist_test):
    images, labels = mnist_test
    source, target = tmp_path / "source", tmp_path / "target"
    for image, label in zip(images[:5], labels[:5]):
        mydigits.add(image, int(label), source)

    data = mydigits.export_zip(source)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        rows = list(csv.DictReader(io.StringIO(archive.read("labels.csv").decode())))
        assert sorted(archive.namelist()) == sorted([r["file"] for r in rows] + ["labels.csv"])
        for row in rows:  # each PNG is the drawing kept, labelled as its name says
            assert row["file"] in {p.name for p in mydigits.files(source)}
            assert row["label"] == row["file"][0]
            Image.open(io.BytesIO(archive.read(row["file"]))).verify()
    assert sorted(int(r["label"]) for r in rows) == sorted(int(x) for x in labels[:5])

    assert mydigits.import_zip(data, target) == mydigits.Imported(added=5, already_there=0)
    x_source, y_source = mydigits.load(source)
    x_target, y_target = mydigits.load(target)
    order_s, order_t = np.lexsort((x_source.sum((1, 2)), y_source)), np.lexsort((x_target.sum((1, 2)), y_target))
    np.testing.assert_array_equal(y_source[order_s], y_target[order_t])
    np.testing.assert_array_equal(x_source[order_s], x_target[order_t])

    # Importing the same set again, here or into the set it came from, adds nothing.
    assert mydigits.import_zip(data, target) == mydigits.Imported(added=0, already_there=5)
    assert mydigits.import_zip(data, source) == mydigits.Imported(added=0, already_there=5)
    assert len(mydigits.files(target)) == 5 and len(mydigits.files(source)) == 5


def test_import_adds_to_the_set_and_takes_a_zipped_folder(tmp_path, mnist_test):
    images, labels = mnist_test
    root = tmp_path / "mine"
    kept = mydigits.add(images[7], int(labels[7]), root)
    entries = {f"scans/{name}": content for name, content in _dataset(mnist_test).items()}
    entries["__MACOSX/scans/._d0.png"] = b"resource fork"  # what macOS's archiver adds
    assert mydigits.import_zip(_zip(entries), root).added == 3
    names = [p.name for p in mydigits.files(root)]
    assert kept.name in names and len(names) == 4
    assert sorted(int(n[0]) for n in names) == sorted(int(x) for x in [*labels[:3], labels[7]])
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]


def _refused(root, data: bytes, match: str) -> None:
    before = sorted(p.name for p in mydigits.files(root))
    with pytest.raises(DigitclfError, match=match):
        mydigits.import_zip(data, root)
    assert sorted(p.name for p in mydigits.files(root)) == before  # nothing half-written
    assert not [p for p in root.parent.iterdir() if p.name.startswith(".tmp-")]


def test_import_refuses_a_bad_zip_and_leaves_the_set_alone(tmp_path, mnist_test):
    images, labels = mnist_test
    root = tmp_path / "mine"
    mydigits.add(images[7], int(labels[7]), root)
    good = _dataset(mnist_test)
    _refused(root, b"PK but not really a zip", "not a zip file")
    _refused(root, _zip({k: v for k, v in good.items() if k != "labels.csv"}), "no labels.csv")
    _refused(root, _zip({**good, "labels.csv": "name,digit\nd0.png,7\n"}),
             "columns file and label")
    _refused(root, _zip({**good, "labels.csv": "file,label\nd0.png,7\nd1.png,x\nd2.png,1\n"}),
             r"line 3: the label of d1.png is 'x', not a digit 0-9")
    _refused(root, _zip({**good, "labels.csv": "file,label\nd0.png,7\nd1.png,10\nd2.png,1\n"}),
             "not a digit 0-9")
    _refused(root, _zip({**good, "labels.csv": "file,label\nd0.png,7\nd0.png,2\nd1.png,1\nd2.png,1\n"}),
             "lists d0.png twice")
    _refused(root, _zip({**good, "labels.csv": good["labels.csv"] + "d9.png,4\n"}),
             "lists d9.png, which is not in the zip")
    _refused(root, _zip({**good, "notes.txt": "hello"}), "notes.txt is in the zip but not in labels.csv")
    _refused(root, _zip({**good, "labels.csv": "file,label\n"}), "lists no drawings")
    # The last file listed is no image, or holds no digit: none of the others are kept either.
    _refused(root, _zip({**good, "d2.png": b"this is not a picture"}), "d2.png cannot be used: .*not an image")
    blank = np.zeros((28, 28), np.uint8)
    _refused(root, _zip({**good, "d2.png": _png(blank)}), "d2.png holds no digit")


def test_import_refuses_too_many_or_too_large_files(tmp_path, mnist_test):
    root = tmp_path / "mine"
    good = _dataset(mnist_test)
    many = {**good, **{f"extra/{i}.png": b"" for i in range(mydigits.MAX_IMPORT_FILES)}}
    _refused(root, _zip(many), "more than the 10,000 one import takes")
    # Zeros pack small: declared sizes are checked before anything is unpacked.
    large = {**good, "d2.png": bytes(mydigits.MAX_IMPORT_FILE_BYTES + 1)}
    _refused(root, _zip(large), r"d2.png unpacks to 4.0 MB, more than the 4 MB")
    count = mydigits.MAX_IMPORT_BYTES // mydigits.MAX_IMPORT_FILE_BYTES + 1
    huge = {f"big{i}.png": bytes(mydigits.MAX_IMPORT_FILE_BYTES) for i in range(count)}
    huge["labels.csv"] = "file,label\n" + "".join(f"big{i}.png,1\n" for i in range(count))
    _refused(root, _zip(huge), "unpacks to 204 MB, more than the 200 MB")
    assert not root.exists()
