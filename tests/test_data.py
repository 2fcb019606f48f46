import gzip
import shutil
import struct

import numpy as np
import pytest

from digitclf.errors import DataError
from digitclf.training import data
from digitclf.training.data import SPLIT_FILES, load_mnist


@pytest.fixture
def data_copy(tmp_path, monkeypatch):
    """A private copy of the MNIST files, selected through DIGITCLF_DATA."""
    for name in (n for pair in SPLIT_FILES.values() for n in pair):
        shutil.copy(data.data_dir() / name, tmp_path / name)
    monkeypatch.setenv("DIGITCLF_DATA", str(tmp_path))
    data._load_cached.cache_clear()
    yield tmp_path
    data._load_cached.cache_clear()


def test_reads_both_splits_as_uint8_arrays():
    for split, count in (("train", 60000), ("test", 10000)):
        images, labels = load_mnist(split)
        assert images.shape == (count, 28, 28) and images.dtype == np.uint8
        assert labels.shape == (count,) and set(np.unique(labels)) == set(range(10))
    assert load_mnist("test")[1][:5].tolist() == [7, 2, 1, 0, 4]  # the well-known first digits


def test_unknown_split_is_refused():
    with pytest.raises(DataError, match="unknown split"):
        load_mnist("validation")


def test_missing_file_names_the_file(data_copy):
    (data_copy / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz"):
        load_mnist("test")


def test_file_that_is_not_gzip(data_copy):
    (data_copy / "t10k-images-idx3-ubyte.gz").write_bytes(b"hello, not gzip")
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte.gz.*gzip"):
        load_mnist("test")


def _rewrite(path, transform):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    with gzip.open(path, "wb") as f:
        f.write(transform(raw))


def test_wrong_magic_number(data_copy):
    _rewrite(data_copy / "t10k-images-idx3-ubyte.gz", lambda raw: struct.pack(">I", 2049) + raw[4:])
    with pytest.raises(DataError, match="magic number 2049, expected 2051"):
        load_mnist("test")


def test_truncated_images(data_copy):
    _rewrite(data_copy / "t10k-images-idx3-ubyte.gz", lambda raw: raw[:-100])
    with pytest.raises(DataError, match="header promises"):
        load_mnist("test")


def test_count_mismatch_between_images_and_labels(data_copy):
    def drop_one_label(raw):
        count = struct.unpack(">I", raw[4:8])[0]
        return raw[:4] + struct.pack(">I", count - 1) + raw[8:-1]

    _rewrite(data_copy / "t10k-labels-idx1-ubyte.gz", drop_one_label)
    with pytest.raises(DataError, match="10000 images but 9999 labels"):
        load_mnist("test")


def test_fingerprint_tracks_the_data(data_copy):
    before = data.fingerprint("test")
    _rewrite(data_copy / "t10k-labels-idx1-ubyte.gz", lambda raw: raw[:-1] + bytes([(raw[-1] + 1) % 10]))
    data._load_cached.cache_clear()
    assert data.fingerprint("test") != before
