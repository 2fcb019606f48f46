"""`python -m digitclf`: train, predict, evaluate and manage models from the terminal.

Errors are one sentence on stderr and a non-zero exit status, never a traceback.
TensorFlow is imported only by the commands that run a model.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from digitclf.errors import DigitclfError, RefusedError, UsageError
from digitclf.store.model_store import ModelStore
from digitclf.store.names import check_name

EXIT_FAILURE = 1
EXIT_USAGE = 2


def _percent(value: float) -> str:
    return f"{100 * value:.2f}%"


def _s(count: int | None) -> str:
    """The plural ending for a count of things: "1 epoch", "2 epochs"."""
    return "" if count == 1 else "s"


# ----- train -----------------------------------------------------------------------------
def _add_train(sub) -> None:
    from digitclf.training.config import (
        ARCHITECTURE_NAMES,
        DISTRIBUTE,
        OPTIMIZERS,
        PRESETS,
        SCHEDULES,
        TrainConfig,
    )

    p = sub.add_parser("train", help="train a model and save it with its card in the store",
                       description="Train a model from a preset; any flag overrides the preset. Presets: "
                       + ", ".join(f"{k} ({v.architecture}, {v.epochs} epoch{_s(v.epochs)})"
                                   for k, v in PRESETS.items()))
    p.add_argument("--preset", choices=sorted(PRESETS), help="starting hyperparameters (default: fast)")
    p.add_argument("--config", type=Path, metavar="FILE",
                   help="starting hyperparameters from a JSON file instead of a preset "
                   "(as the dashboard's background runs write it)")
    p.add_argument("--name", required=True, help="model name: letters, digits, '-', '_' (max 64)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing model of that name")
    p.add_argument("--activate", action="store_true", help="make the new model the active one")
    p.add_argument("--events", type=Path, metavar="FILE",
                   help="also append progress as JSON lines to FILE (used by the dashboard)")
    g = p.add_argument_group("hyperparameters (default: the preset's)")
    g.add_argument("--architecture", choices=ARCHITECTURE_NAMES)
    g.add_argument("--epochs", type=int)
    g.add_argument("--batch-size", type=int)
    g.add_argument("--learning-rate", type=float, help="peak learning rate")
    g.add_argument("--schedule", choices=SCHEDULES)
    g.add_argument("--optimizer", choices=OPTIMIZERS)
    g.add_argument("--weight-decay", type=float, help="for adamw")
    g.add_argument("--label-smoothing", type=float)
    g.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None,
                   help="handwriting augmentation (rotation, slant, scale, shift, stroke width)")
    g.add_argument("--augment-strength", type=float, help="scales all augmentation ranges (1.0 = full)")
    g.add_argument("--val-fraction", type=float, help="share of the training set held out for validation")
    g.add_argument("--train-subset", type=int, help="train on only this many examples")
    g.add_argument("--patience", type=int, help="early stopping: epochs without validation improvement")
    g.add_argument("--target-accuracy", type=float, help="stop once validation accuracy reaches this")
    g.add_argument("--seed", type=int)
    g.add_argument("--distribute", choices=DISTRIBUTE,
                   help="'mirrored': data-parallel over all local GPUs (one CPU device here)")
    g.add_argument("--base-model", metavar="NAME", help="fine-tune: start from this model's weights")
    g.add_argument("--handwriting", type=int, metavar="N",
                   help="add N digits rendered from the training families of handwriting typefaces")
    g.add_argument("--number-parts", type=int, metavar="N",
                   help="add N digits cut out of whole numbers of the training families "
                        "as read_number cuts them")
    g.add_argument("--my-digits", action="store_true", default=None,
                   help="add the \"my digits\" set of corrected drawings to the training data")
    p.set_defaults(run=_run_train, hyperparameters=[f.name for f in dataclasses.fields(TrainConfig)])


def _run_train(args) -> int:
    store = ModelStore()
    check_name(args.name)
    with store.claim(args.name):  # held to the end: a second training of this name is refused now
        trained, path = _train_and_save(args, store)
    card = trained.card
    accuracy = _percent(card.test_accuracy) if card.test_accuracy is not None else "-"
    print(f"saved {args.name} to {path}: test accuracy {accuracy}, "
          f"{card.epochs_run} epoch{_s(card.epochs_run)} in {card.training_seconds:.0f} s")
    if card.accuracy_warning is not None:
        print(f"warning: {args.name} {card.accuracy_warning}: train on more examples or for more epochs",
              file=sys.stderr)
    if args.activate:
        try:
            store.set_active(args.name)
        except RefusedError as e:
            print(f"warning: {e} ('digitclf activate --force {args.name}' does it anyway)", file=sys.stderr)
    return 0


def _train_and_save(args, store: ModelStore):
    """The training run and its model saved under args.name: (TrainedModel, its folder)."""
    if store.exists(args.name) and not args.overwrite:
        raise DigitclfError(f"a model named {args.name!r} already exists: pick another name or pass --overwrite")
    from digitclf.training.config import config_for, read_config_file, too_small_to_learn
    from digitclf.training.progress import EventHandler, JsonLinesProgress, TerminalProgress, fan_out

    overrides = {k: getattr(args, k) for k in args.hyperparameters if hasattr(args, k)}
    if args.config is not None:
        if args.preset is not None:
            raise UsageError("give --preset or --config, not both")
        start, preset = read_config_file(args.config)
        config = dataclasses.replace(
            start, **{k: v for k, v in overrides.items() if v is not None}).validate()
    else:
        preset = args.preset or "fast"
        config = config_for(preset, **overrides)
    warning = too_small_to_learn(config)
    if warning is not None:
        print(f"warning: {warning}", file=sys.stderr)
    from digitclf.training.publish import publish
    from digitclf.training.train import train

    handlers: list[EventHandler] = [TerminalProgress()]
    if args.events:
        handlers.append(JsonLinesProgress(args.events))
    trained = train(config, store=store, on_event=fan_out(handlers), preset=preset)
    return trained, publish(trained, store, args.name, overwrite=args.overwrite)


# ----- predict ---------------------------------------------------------------------------
def _add_predict(sub) -> None:
    p = sub.add_parser("predict", help="read the digit in each image file",
                       description="Predict the digit in each image file (PNG, JPEG, ...) or in "
                       "every image under a folder. Results stream out in order. "
                       "Exit status 1 when any file failed.")
    p.add_argument("files", nargs="*", type=Path, metavar="FILE", help="image files or folders")
    p.add_argument("--files-from", type=Path, metavar="LIST",
                   help="read more paths from LIST, one per line ('-' for standard input)")
    p.add_argument("--model", help="model name (default: the active model)")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument("--number", action="store_true",
                   help="read each image as a number of several digits (a postal code, an amount)")
    p.set_defaults(run=_run_predict)


IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}


def _input_paths(args) -> Iterator[tuple[Path, DigitclfError | None]]:
    """The paths to predict, lazily: folders expand to their image files (sorted). Each comes
    with the error known before reading it: a folder without image files is one."""
    listed: Iterable[Path] = args.files
    if args.files_from is not None:
        listed = itertools.chain(listed, _listed_paths(args.files_from))
    for path in listed:
        if not path.is_dir():
            yield path, None
        elif not os.access(path, os.R_OK | os.X_OK):
            yield path, DigitclfError(f"cannot read the folder {path}: permission denied")
        elif images := sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and not p.is_dir()):
            yield from ((image, None) for image in images)
        else:
            yield path, DigitclfError(f"no image files in the folder {path} (looked for "
                                      f"{', '.join(sorted(IMAGE_SUFFIXES))})")


def _listed_paths(source: Path) -> Iterator[Path]:
    """The paths in a file list, one per line ('-': standard input); the file is closed
    once read."""
    if str(source) == "-":
        yield from (Path(line.strip()) for line in sys.stdin if line.strip())
        return
    try:
        with open(source) as stream:
            yield from (Path(line.strip()) for line in stream if line.strip())
    except (OSError, UnicodeDecodeError) as e:
        raise DigitclfError(f"cannot read the file list {source}: {getattr(e, 'strerror', None) or e}") from None


def _count_inputs(args) -> int | None:
    if args.files_from is not None or any(p.is_dir() for p in args.files):
        return None
    return len(args.files)


def _run_predict(args) -> int:
    if not args.files and args.files_from is None:
        raise UsageError("give image files, folders, or --files-from LIST")
    if args.files_from is not None and str(args.files_from) != "-" and not args.files_from.is_file():
        raise DigitclfError(f"no such file list: {args.files_from}")
    from tqdm import tqdm

    from digitclf.reading.batch import read_many, record
    from digitclf.reading.predictor import load_predictor

    predictor = load_predictor(args.model)
    inputs, to_read = itertools.tee(_input_paths(args))
    readable = (path for path, error in to_read if error is None)
    results: Iterator[Any] = read_many(predictor, readable, numbers=args.number)
    bar = tqdm(total=_count_inputs(args), unit="image", disable=not sys.stderr.isatty(),
               file=sys.stderr, leave=False)
    failed = 0
    for path, error in inputs:
        result = error if error is not None else next(results)
        bar.update()
        if isinstance(result, DigitclfError):
            failed += 1
            if args.json:
                print(json.dumps(record(str(path), result)), flush=True)
            else:
                bar.write(f"{path}: error: {result}", file=sys.stderr)
            continue
        if args.json:
            print(json.dumps(record(str(path), result)), flush=True)
        elif args.number:  # the confidence that the whole number is right
            print(f"{path}: {result.text} ({_percent(result.confidence)})", flush=True)
        else:
            # a refused reading gets no confidence: it would be the classifier's, in a digit it is not
            label = (f"{result.digit} ({_percent(result.confidence)})" if result.is_digit
                     else f"not a digit (looks most like {result.digit})")
            print(f"{path}: {label}", flush=True)
    bar.close()
    return EXIT_FAILURE if failed else 0


# ----- evaluate --------------------------------------------------------------------------
def _add_evaluate(sub) -> None:
    p = sub.add_parser("evaluate", help="accuracy, per-class metrics and confusion matrix on MNIST test")
    p.add_argument("--model", help="model name (default: the active model)")
    p.add_argument("--json", action="store_true", help="the full report as JSON")
    p.set_defaults(run=_run_evaluate)


def _run_evaluate(args) -> int:
    from digitclf.reading.predictor import load_predictor
    from digitclf.training.evaluation import evaluate

    predictor = load_predictor(args.model)
    report = evaluate(predictor).report
    if args.json:
        print(json.dumps({"model": predictor.name, **report}))
        return 0
    print(f"model {predictor.name}: test accuracy {_percent(report['accuracy'])} "
          f"({report['errors']} errors of 10000), calibration error {_percent(report['ece'])}")
    print("\ndigit  precision  recall     f1  support")
    for digit, m in report["per_class"].items():
        print(f"{digit:>5}  {m['precision']:9.4f}  {m['recall']:6.4f}  {m['f1']:.4f}  {m['support']:7d}")
    print("\nconfusion matrix (rows: true digit, columns: predicted)")
    print("     " + "".join(f"{d:>6}" for d in range(10)))
    for digit, row in enumerate(report["confusion_matrix"]):
        print(f"{digit:>5}" + "".join(f"{n:>6}" for n in row))
    return 0


# ----- models, activate, delete ----------------------------------------------------------
def _add_models(sub) -> None:
    p = sub.add_parser("models", help="list the models in the store, and the broken ones with why")
    p.add_argument("--json", action="store_true",
                   help="one JSON object per model (a broken one: name, broken, reason)")
    p.set_defaults(run=_run_models)
    p = sub.add_parser("activate", help="make a model the active one (used by default)")
    p.add_argument("name")
    p.add_argument("--force", action="store_true",
                   help="also a model far below a useful accuracy (under 90%% on the test digits)")
    p.set_defaults(run=_run_activate)
    p = sub.add_parser("delete", help="delete a model from the store")
    p.add_argument("name")
    p.add_argument("--force", action="store_true",
                   help="also the active model or the shipped 'default'")
    p.set_defaults(run=_run_delete)


def _run_models(args) -> int:
    store = ModelStore()
    active = store.active_name()
    rows: list[dict[str, Any]] = [
        {"name": e.name, "broken": True, "reason": e.problem} if e.card is None else
        {"name": e.name, "architecture": e.card.architecture, "test_accuracy": e.card.test_accuracy,
         "created_at": e.card.created_at, "active": e.name == active, "broken": False,
         "warning": e.card.accuracy_warning}
        for e in store.entries()
    ]
    if args.json:
        for row in rows:
            print(json.dumps(row))
        return 0
    if not rows:
        print(f"no models in {store.root}")
        return 0
    print(f"  {'name':<24} {'architecture':<12} {'test acc':>9}  created")
    for r in rows:
        if r["broken"]:
            print(f"! {r['name']:<24} broken: {r['reason']}")
            continue
        acc = _percent(r["test_accuracy"]) if r["test_accuracy"] is not None else "-"
        mark = "*" if r["active"] else " "
        low = "  (far below a useful accuracy)" if r["warning"] else ""
        print(f"{mark} {r['name']:<24} {r['architecture']:<12} {acc:>9}  {r['created_at'] or '-'}{low}")
    return 0


def _run_activate(args) -> int:
    ModelStore().set_active(args.name, force=args.force)
    print(f"active model: {args.name}")
    return 0


def _run_delete(args) -> int:
    store = ModelStore()
    before = store.active_name()
    active = store.delete(args.name, force=args.force)
    if active is None:
        print(f"deleted {args.name}; no model is active now: train one or copy one into the store")
    elif active != before:
        print(f"deleted {args.name}; the active model is now {active}")
    else:
        print(f"deleted {args.name}")
    return 0


# ----- serve, export ----------------------------------------------------------------------
def _add_serve(sub) -> None:
    p = sub.add_parser("serve", help="run the JSON HTTP API (docs at /docs)",
                       description="Serve POST /v1/digits, /v1/digits/batch, /v1/numbers, GET /v1/models "
                       "and /healthz over HTTP until interrupted. Stateless: run several behind a load balancer.")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port to listen on (default: 8000)")
    p.add_argument("--model", help="model served by default (default: the active model)")
    p.add_argument("--workers", type=int,
                   help="server processes, each loading the model (default: one per core)")
    p.add_argument("--threads", type=int,
                   help="images preprocessed at once per process (default: CPU count / workers)")
    p.add_argument("--api-keys", type=Path, metavar="FILE",
                   help="require 'Authorization: Bearer KEY' with a key from FILE (one per line, '#' starts "
                   "a comment) on every request but /healthz (default: the file DIGITCLF_API_KEYS names, "
                   "else no key needed)")
    p.add_argument("--header-timeout", type=float, metavar="SECONDS",
                   help="answer 408 and close when a request's headers take longer (default: 10)")
    p.add_argument("--body-timeout", type=float, metavar="SECONDS",
                   help="answer 408 and close when a request's body takes longer after its headers (default: 30)")
    p.set_defaults(run=_run_serve)


def _run_serve(args) -> int:
    from digitclf.service.server import serve

    timeouts = {k: v for k in ("header_timeout", "body_timeout") if (v := getattr(args, k)) is not None}
    serve(args.host, args.port, args.model, args.threads, args.workers, args.api_keys, **timeouts)
    return 0


def _add_export(sub) -> None:
    p = sub.add_parser("export", help="export a model for TensorFlow Serving or an ONNX server",
                       description="Write a model into OUTDIR/VERSION/, the layout model servers "
                       "watch: a TensorFlow SavedModel for TensorFlow Serving (signature "
                       "serving_default: float32 images (N, 28, 28) in 0..255 -> probabilities "
                       "(N, 10)), or model.onnx for Triton or ONNX Runtime (the same function).")
    p.add_argument("outdir", type=Path, metavar="OUTDIR", help="the model's base folder on the server")
    p.add_argument("--model", help="model name (default: the active model)")
    p.add_argument("--format", default="savedmodel", choices=("savedmodel", "onnx"),
                   help="savedmodel (default) or onnx")
    p.add_argument("--version", type=int, help="version folder number (default: the next free one)")
    p.set_defaults(run=_run_export)


def _run_export(args) -> int:
    from digitclf.convert.export import export_model

    path = export_model(args.outdir, args.model, args.format, args.version)
    print(f"exported to {path}")
    return 0


# ----- entry point -----------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="digitclf",
        description="Handwritten-digit recognition: train, predict, evaluate and manage models.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (_add_train, _add_predict, _add_evaluate, _add_models, _add_serve, _add_export):
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except RefusedError as e:
        print(f"error: {e} (--force does it anyway)", file=sys.stderr)
        return EXIT_FAILURE
    except DigitclfError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_FAILURE
    except Exception as e:  # a bug or a broken environment: one line, not a traceback
        print(f"error: unexpected failure ({type(e).__name__}): {e}", file=sys.stderr)
        return EXIT_FAILURE
