import json

import numpy as np
from conftest import run_cli
from PIL import Image

from digitclf.training import synth
from digitclf.training.data import load_mnist


def _write_digits(folder, indices):
    images, labels = load_mnist("test")
    paths = []
    for i in indices:
        path = folder / f"digit{i}.png"
        Image.fromarray(synth.ink_on_paper(synth.render(images[i]))).save(path)
        paths.append((path, int(labels[i])))
    return paths


def test_predict_json_with_good_and_bad_files(tmp_path):
    good = _write_digits(tmp_path, [0, 1, 2])
    blank = tmp_path / "blank.png"
    Image.new("L", (100, 100), 255).save(blank)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG but not really")
    missing = tmp_path / "missing.png"
    files = [good[0][0], blank, good[1][0], broken, missing, good[2][0]]
    result = run_cli("predict", "--model", "default", "--json", *map(str, files))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["path"] for line in lines] == [str(f) for f in files]
    for line, (_, label) in zip([lines[0], lines[2], lines[5]], good):
        assert line["digit"] == label and 0 < line["confidence"] <= 1
        assert len(line["probabilities"]) == 10 and abs(sum(line["probabilities"]) - 1) < 1e-3
    assert "blank" in lines[1]["error"]
    assert "cannot be decoded" in lines[3]["error"] or "not an image" in lines[3]["error"]
    assert "no such file" in lines[4]["error"]


def test_predict_plain_output_and_exit_status(tmp_path):
    (path, label), = _write_digits(tmp_path, [7])
    result = run_cli("predict", str(path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{path}: {label} (")


def test_unknown_model_is_a_clear_error(tmp_path):
    (path, _), = _write_digits(tmp_path, [0])
    result = run_cli("predict", "--model", "no-such-model", str(path))
    assert result.returncode == 1
    assert "no model named 'no-such-model'" in result.stderr and "Traceback" not in result.stderr


def test_models_lists_the_store(store_env):
    result = run_cli("models", "--json")
    assert result.returncode == 0
    (row,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert row["name"] == "tiny" and row["architecture"] == "cnn" and row["active"] is False
    assert run_cli("activate", "tiny").returncode == 0
    assert json.loads(run_cli("models", "--json").stdout)["active"] is True
    assert "* tiny" in run_cli("models").stdout
    assert run_cli("delete", "tiny").returncode == 0
    assert run_cli("models").stdout.startswith("no models")
    gone = run_cli("delete", "tiny")
    assert gone.returncode == 1 and "no model named 'tiny'" in gone.stderr


def test_evaluate_json_reports_the_default_model():
    result = run_cli("evaluate", "--model", "default", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["accuracy"] >= 0.996
    assert np.array(report["confusion_matrix"]).shape == (10, 10)
    assert set(report["per_class"]) == {str(d) for d in range(10)}


def test_help_everywhere():
    for command in ([], ["train"], ["predict"], ["evaluate"], ["models"], ["activate"], ["delete"]):
        result = run_cli(*command, "--help")
        assert result.returncode == 0 and "usage:" in result.stdout


def test_usage_errors_have_no_traceback():
    result = run_cli("train", "--name", "x", "--epochs", "lots")
    assert result.returncode == 2 and "invalid int value" in result.stderr


def test_predict_streams_a_folder_and_a_file_list(tmp_path):
    folder = tmp_path / "scans"
    folder.mkdir()
    good = _write_digits(folder, range(5))
    (folder / "notes.txt").write_text("not an image, and not picked up: wrong suffix")
    (folder / "empty.png").write_bytes(b"")
    listing = tmp_path / "list.txt"
    listing.write_text(f"{good[0][0]}\n\n{tmp_path / 'gone.png'}\n")
    result = run_cli("predict", "--json", str(folder), "--files-from", str(listing))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 5 + 1 + 2  # the folder's six .png files, then the list's two
    by_path = {line["path"]: line for line in lines}
    for path, label in good:
        assert by_path[str(path)]["digit"] == label and by_path[str(path)]["is_digit"] is True
    assert "error" in by_path[str(folder / "empty.png")]
    assert "no such file" in lines[-1]["error"]


def test_predict_needs_some_input():
    result = run_cli("predict")
    assert result.returncode == 2 and "give image files" in result.stderr


def test_predict_number_reads_a_postal_code(tmp_path):
    images, labels = load_mnist("test")
    ink, text = synth.render_number(images[10:15], labels[10:15], np.random.default_rng(1))
    path = tmp_path / "zip.png"
    Image.fromarray(synth.ink_on_paper(ink)).save(path)
    result = run_cli("predict", "--number", str(path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{path}: {text}"
    line = json.loads(run_cli("predict", "--number", "--json", str(path)).stdout)
    assert line["text"] == text and len(line["digits"]) == len(line["boxes"]) == 5
