import json

import numpy as np
from conftest import DAMAGE, damage_store, run_cli
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
    assert row["broken"] is False and row["warning"].startswith("reads only")  # the tiny model is weak
    refused = run_cli("activate", "tiny")
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert refused.stderr.startswith("error: model 'tiny' is not made active: it reads only ")
    assert refused.stderr.rstrip().endswith("of a useful model (--force does it anyway)")
    assert run_cli("activate", "--force", "tiny").returncode == 0
    assert json.loads(run_cli("models", "--json").stdout)["active"] is True
    assert "* tiny" in run_cli("models").stdout
    active = run_cli("delete", "tiny")
    assert active.returncode == 1 and active.stderr == (
        "error: model 'tiny' is the active model: make another model active first (--force does it anyway)\n")
    assert (store_env / "tiny").is_dir()
    forced = run_cli("delete", "--force", "tiny")
    assert forced.returncode == 0
    assert forced.stdout == "deleted tiny; no model is active now: train one or copy one into the store\n"
    assert run_cli("models").stdout.startswith("no models")
    gone = run_cli("delete", "tiny")
    assert gone.returncode == 1 and "no model named 'tiny'" in gone.stderr


def test_models_lists_a_damaged_store_and_names_each_broken_model(store_env, tmp_path):
    damage_store(store_env)
    listing = run_cli("models")
    assert listing.returncode == 0 and "Traceback" not in listing.stderr
    lines = listing.stdout.splitlines()
    assert any(line.startswith("  tiny ") for line in lines)
    for name, reason in DAMAGE.items():
        (line,) = [line for line in lines if line.startswith(f"! {name} ")]
        assert f"broken: {reason}" in line
    rows = {row["name"]: row for row in map(json.loads, run_cli("models", "--json").stdout.splitlines())}
    assert set(rows) == {"tiny", *DAMAGE}
    assert rows["tiny"]["broken"] is False and rows["tiny"]["architecture"] == "cnn"
    for name, reason in DAMAGE.items():
        assert rows[name]["broken"] is True and reason in rows[name]["reason"]
    (path, _), = _write_digits(tmp_path, [0])
    for name in ("cut-onnx", "unreadable-card", "wide-keras"):
        result = run_cli("predict", "--model", name, str(path))
        assert result.returncode == 1 and result.stdout == ""
        assert result.stderr.startswith(f"error: model {name!r} cannot be used: {DAMAGE[name]}")
        assert len(result.stderr.splitlines()) == 1
    assert run_cli("predict", "--model", "tiny", str(path)).returncode == 0


def test_a_model_far_below_a_useful_accuracy_is_saved_with_warnings_and_not_made_active(store_env):
    # The case: 2,000 examples in batches of 128 for one epoch read 14.9%.
    result = run_cli("train", "--preset", "fast", "--train-subset", "2000", "--name", "weak", "--activate")
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert warnings[0] == ("warning: 2,000 training examples in batches of 128 for 1 epoch make only 15 "
                           "training steps, too few to learn digits reliably (the model may read far below "
                           "90% of the test digits): use more examples, more epochs or smaller batches")
    assert warnings[1].startswith("warning: weak reads only ")
    assert warnings[1].endswith("% of the MNIST test digits, far below the 90% of a useful model: "
                                "train on more examples or for more epochs")
    assert warnings[2].startswith("warning: model 'weak' is not made active: it reads only ")
    assert "saved weak" in result.stdout
    card = json.loads((store_env / "weak" / "card.json").read_text())
    assert card["version"] == 2 and card["test_accuracy"] < 0.9
    assert card["accuracy_warning"] == warnings[1][len("warning: weak "):].split(": train on")[0]
    assert not (store_env / "active.json").exists()
    refused = run_cli("activate", "weak")
    assert refused.returncode == 1 and "--force does it anyway" in refused.stderr
    assert run_cli("activate", "--force", "weak").returncode == 0
    assert json.loads((store_env / "active.json").read_text()) == {"active": "weak"}


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
    line = json.loads(run_cli("predict", "--number", "--json", str(path)).stdout)
    assert line["text"] == text and len(line["digits"]) == len(line["boxes"]) == 5
    assert result.stdout.strip() == f"{path}: {text} ({100 * line['confidence']:.2f}%)"


def test_not_a_digit_is_said_once_without_a_confidence_in_the_digit_refused(tmp_path):
    from digitclf.training import negatives

    rng = np.random.default_rng(7)
    paths = []
    for i in range(8):
        ink = negatives.scribble(rng) if i % 2 else negatives.shape(rng)
        paths.append(tmp_path / f"mark{i}.png")
        Image.fromarray(synth.ink_on_paper(ink)).save(paths[-1])
    paths += [path for path, _ in _write_digits(tmp_path, [0, 1])]
    answers = run_cli("predict", "--json", *map(str, paths)).stdout.splitlines()
    lines = {line["path"]: line for line in map(json.loads, answers)}
    plain = run_cli("predict", *map(str, paths)).stdout.splitlines()
    refused = [line for line in lines.values() if "is_digit" in line and not line["is_digit"]]
    assert refused and len(refused) < len(paths)
    for text in plain:
        path, _, said = text.partition(": ")
        if lines[path].get("is_digit") is False:
            assert said == f"not a digit (looks most like {lines[path]['digit']})"
        elif "digit" in lines[path]:
            assert said == f"{lines[path]['digit']} ({100 * lines[path]['confidence']:.2f}%)"
