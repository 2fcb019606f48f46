"""`python -m digitclf`: train, predict, evaluate and manage models from the terminal.

Errors are one sentence on stderr and a non-zero exit status, never a traceback.
TensorFlow is imported only by the commands that run a model.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Sequence

from .errors import DigitclfError
from .store import ModelStore, check_name

EXIT_FAILURE = 1
EXIT_USAGE = 2


def _percent(value: float) -> str:
    return f"{100 * value:.2f}%"


# ----- train -----------------------------------------------------------------------------
def _add_train(sub) -> None:
    from .config import ARCHITECTURE_NAMES, OPTIMIZERS, PRESETS, SCHEDULES, TrainConfig

    p = sub.add_parser("train", help="train a model and save it with its card in the store",
                       description="Train a model from a preset; any flag overrides the preset. "
                       f"Presets: {', '.join(f'{k} ({v.architecture}, {v.epochs} epochs)' for k, v in PRESETS.items())}.")
    p.add_argument("--preset", default="fast", choices=sorted(PRESETS), help="starting hyperparameters (default: fast)")
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
    g.add_argument("--base-model", metavar="NAME", help="fine-tune: start from this model's weights")
    g.add_argument("--my-digits", action="store_true", default=None,
                   help="add the \"my digits\" set of corrected drawings to the training data")
    p.set_defaults(run=_run_train, hyperparameters=[f.name for f in dataclasses.fields(TrainConfig)])


def _run_train(args) -> int:
    store = ModelStore()
    check_name(args.name)
    if store.exists(args.name) and not args.overwrite:
        raise DigitclfError(f"a model named {args.name!r} already exists: pick another name or pass --overwrite")
    from .config import config_for
    from .progress import JsonLinesProgress, TerminalProgress, fan_out
    from .train import train

    overrides = {k: getattr(args, k) for k in args.hyperparameters if hasattr(args, k)}
    config = config_for(args.preset, **overrides)
    handlers = [TerminalProgress()]
    if args.events:
        handlers.append(JsonLinesProgress(args.events))
    trained = train(config, on_event=fan_out(handlers), preset=args.preset)
    path = store.save(args.name, trained.model, trained.card, overwrite=args.overwrite)
    if args.activate:
        store.set_active(args.name)
    card = trained.card
    print(f"saved {args.name} to {path}: test accuracy {_percent(card['test_accuracy'])}, "
          f"{card['epochs_run']} epochs in {card['training_seconds']:.0f} s")
    return 0


# ----- predict ---------------------------------------------------------------------------
def _add_predict(sub) -> None:
    p = sub.add_parser("predict", help="read the digit in each image file",
                       description="Predict the digit in each image file (PNG, JPEG, ...). "
                       "Exit status 1 when any file failed.")
    p.add_argument("files", nargs="+", type=Path, metavar="FILE")
    p.add_argument("--model", help="model name (default: the active model)")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(run=_run_predict)


def _run_predict(args) -> int:
    from .predictor import load_predictor

    predictor = load_predictor(args.model)
    failed = 0
    for path in args.files:
        try:
            result = predictor.predict_image(path)
        except DigitclfError as e:
            failed += 1
            if args.json:
                print(json.dumps({"path": str(path), "error": str(e)}), flush=True)
            else:
                print(f"{path}: error: {e}", file=sys.stderr, flush=True)
            continue
        if args.json:
            print(json.dumps({"path": str(path), **result.to_dict()}), flush=True)
        else:
            print(f"{path}: {result.digit} ({_percent(result.confidence)})", flush=True)
    return EXIT_FAILURE if failed else 0


# ----- evaluate --------------------------------------------------------------------------
def _add_evaluate(sub) -> None:
    p = sub.add_parser("evaluate", help="accuracy, per-class metrics and confusion matrix on MNIST test")
    p.add_argument("--model", help="model name (default: the active model)")
    p.add_argument("--json", action="store_true", help="the full report as JSON")
    p.set_defaults(run=_run_evaluate)


def _run_evaluate(args) -> int:
    from .evaluation import evaluate
    from .predictor import load_predictor

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
    p = sub.add_parser("models", help="list the models in the store")
    p.add_argument("--json", action="store_true", help="one JSON object per model")
    p.set_defaults(run=_run_models)
    p = sub.add_parser("activate", help="make a model the active one (used by default)")
    p.add_argument("name")
    p.set_defaults(run=_run_activate)
    p = sub.add_parser("delete", help="delete a model from the store")
    p.add_argument("name")
    p.set_defaults(run=_run_delete)


def _run_models(args) -> int:
    store = ModelStore()
    active = store.active_name()
    rows = [
        {"name": c["name"], "architecture": c.get("architecture"), "test_accuracy": c.get("test_accuracy"),
         "created_at": c.get("created_at"), "active": c["name"] == active}
        for c in store.cards()
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
        acc = _percent(r["test_accuracy"]) if r["test_accuracy"] is not None else "-"
        print(f"{'*' if r['active'] else ' '} {r['name']:<24} {r['architecture'] or '-':<12} {acc:>9}  {r['created_at'] or '-'}")
    return 0


def _run_activate(args) -> int:
    ModelStore().set_active(args.name)
    print(f"active model: {args.name}")
    return 0


def _run_delete(args) -> int:
    store = ModelStore()
    store.delete(args.name)
    print(f"deleted {args.name}")
    return 0


# ----- entry point -----------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m digitclf",
        description="Handwritten-digit recognition: train, predict, evaluate and manage models.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (_add_train, _add_predict, _add_evaluate, _add_models):
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except DigitclfError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_FAILURE
    except Exception as e:  # a bug or a broken environment: one line, not a traceback
        print(f"error: unexpected failure ({type(e).__name__}): {e}", file=sys.stderr)
        return EXIT_FAILURE
