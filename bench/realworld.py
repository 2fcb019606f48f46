"""Real-world reading on handwriting that is not MNIST: digits, numbers, letters and shapes drawn
with the "benchmark" families of handwriting typefaces (digitclf.training.handwriting), which
nothing was trained or tuned on. Every image is encoded as a transparent canvas, white on black,
ink on paper or a ballpoint photo (synth.ENCODINGS). On the same model and images it prints
  1. single digits (render_char; digits balanced, fonts and encodings cycled): predict_image right,
     beside the textbook MNIST pipeline (grey, invert if the paper is light, crop to the ink box,
     fit in 20x20, centre of mass in 28x28); and the digits wrongly flagged as not a digit
  2. 5-digit numbers (render_number, "natural" and "tight" spacing reported apart, one font per
     number, encodings cycled): read_number read exactly, beside one digit per connected component,
     and "all 5 alone": all five digits right as single digits by predict_image, each box cut out
     of the ink on its own (with tight spacing a neighbour's ink inside the box stays; no number
     context, so not a strict ceiling); the median time per read_number
  3. how often number readings with confidence >= 0.99 are exact, and a reliability table
  4. not a digit: letters (all 52 ASCII letters but DIGIT_LIKE = "OoIl", which handwriting shares
     with 0 and 1) and shapes and scribbles (digitclf.training.negatives' generators, seeded apart
     from training's and from --split validation's: SHAPE_SEEDS): share flagged, beside the
     low-confidence rule (top p < 0.5)
  5. the MNIST test digits wrongly flagged as not a digit
and a summary against the targets. The same --seed draws the same images every run.

    python bench/realworld.py [--count 2000] [--numbers 250] [--negatives 384] [--seed 0] [--model NAME]
                              [--split benchmark]

`--split validation` runs the same on the validation families: the place to tune and choose, so
that the benchmark families are read once, at the end.
"""

from __future__ import annotations

import argparse
import inspect
import string
import time
from collections.abc import Callable
from pathlib import Path

import drawn  # bench/ is the script's folder, first on sys.path
import numpy as np
import read_numbers

from digitclf.errors import NoDigitError
from digitclf.imaging.decode import decode_image
from digitclf.reading.predictor import Predictor, load_predictor
from digitclf.training import handwriting, negatives, synth
from digitclf.training.data import load_mnist

CANVAS = handwriting.CANVAS  # the canvas every character is drawn on
DIGITS = "0123456789"
DIGIT_LIKE = "OoIl"  # letters handwriting shares with digits: not counted as not-a-digit
LETTERS = "".join(c for c in string.ascii_letters if c not in DIGIT_LIKE)
NOT_SHAPES = ("smudge",)  # negatives' one-argument generators that are neither shapes nor scribbles
ENCODINGS = list(synth.ENCODINGS.items())
SHAPE_SEEDS = {"benchmark": 10_000, "validation": 20_000}  # + --seed; training draws its shapes with seed 0
BINS = (0.0, 0.5, 0.9, 0.99, 1.0)  # confidence bins of the reliability table
Columns = dict[str, np.ndarray]  # one array per column, one entry per image


def family(font: Path) -> str:
    return font.stem.removesuffix("-latin-400-normal")


def textbook(image: np.ndarray) -> np.ndarray:
    """The MNIST recipe alone: ink box, fit in 20x20, centre of mass at the centre of 28x28."""
    return drawn.textbook(decode_image(image))


def read_digit(predictor: Predictor, image: np.ndarray) -> tuple[int, bool, float]:
    """predict_image's digit, whether it flags the image as not a digit, its confidence (refused: -1, True, 0)."""
    try:
        result = predictor.predict_image(image)
    except NoDigitError:
        return -1, True, 0.0
    return result.digit, not result.is_digit, result.confidence


def shape_generators() -> dict[str, Callable[[np.random.Generator], np.ndarray]]:
    """negatives' generators that need nothing but a random generator (scribble, shape and any newer ones)."""
    found = {}
    for name, func in inspect.getmembers(negatives, inspect.isfunction):
        required = [p.name for p in inspect.signature(func).parameters.values() if p.default is p.empty]
        if func.__module__ == negatives.__name__ and not name.startswith("_") and required == ["rng"]:
            found[name] = func
    return {name: func for name, func in found.items() if name not in NOT_SHAPES}


def pct(part: float, whole: float) -> str:
    return f"{100 * part / max(whole, 1):.2f}%"


def table(title: str, groups: np.ndarray, columns: dict[str, np.ndarray]) -> None:
    """One row per group and one for all: its count and each column's share of True."""
    print(f"{title:<18}{'count':>6}" + "".join(f"{name:>13}" for name in columns))
    for key in [*dict.fromkeys(groups), "all"]:
        sel = np.ones(len(groups), bool) if key == "all" else groups == key
        print(f"{key:<18}{sel.sum():>6}" + "".join(f"{pct(v[sel].sum(), sel.sum()):>13}" for v in columns.values()))


def single_digits(predictor: Predictor, fonts: list[Path], count: int, seed: int) -> Columns:
    rng = np.random.default_rng([seed, 1])
    rows = []
    for i in range(count):  # digits balanced, each digit cycles the fonts, each round of all cycles the encodings
        label, font = i % 10, fonts[(i // 10) % len(fonts)]
        name, encode = ENCODINGS[(i // (10 * len(fonts))) % len(ENCODINGS)]
        image = encode(handwriting.render_char(font, DIGITS[label], rng, CANVAS), rng)
        digit, flag, confidence = read_digit(predictor, image)
        book = int(predictor.predict(textbook(image)).argmax())
        rows.append((name, str(label), family(font), digit == label, book == label, flag, confidence < 0.5))
    keys = ("encoding", "digit", "family", "ours", "textbook", "flagged", "low_conf")
    return {key: np.array(column) for key, column in zip(keys, zip(*rows))}


def numbers(predictor: Predictor, fonts: list[Path], count: int, seed: int) -> tuple[Columns, list[float]]:
    rng = np.random.default_rng([seed, 2])
    rows, seconds = [], []
    for j in range(count):  # the same text, font and encoding in both spacings
        text = "".join(rng.choice(list(DIGITS), 5))
        font, (name, encode) = fonts[j % len(fonts)], ENCODINGS[(j // len(fonts)) % len(ENCODINGS)]
        for spacing in ("natural", "tight"):
            ink, boxes = handwriting.render_number(font, text, rng, spacing=spacing)
            image = encode(ink, rng)
            start = time.perf_counter()
            try:
                result = predictor.read_number(image)
                read, confidence = result.text, result.confidence
            except NoDigitError:
                read, confidence = "", 0.0
            seconds.append(time.perf_counter() - start)
            alone = [np.zeros_like(ink) for _ in boxes]
            for cut, (x, y, w, h) in zip(alone, boxes):
                cut[y : y + h, x : x + w] = ink[y : y + h, x : x + w]
            singles = [read_digit(predictor, encode(cut, rng))[0] for cut in alone]  # no short cut: same rng use
            alone_right = "".join(map(str, singles)) == text
            naive_right = read_numbers.naive_read(predictor, image) == text
            rows.append((spacing, name, read == text, naive_right, alone_right, confidence))
    keys = ("spacing", "encoding", "ours", "naive", "alone", "confidence")
    return {key: np.array(column) for key, column in zip(keys, zip(*rows))}, seconds


def not_digits(predictor: Predictor, fonts: list[Path], count: int, seed: int, shape_seed: int) -> Columns:
    """`count` letters and `count` shapes and scribbles, encodings drawn at random: kind, flagged, low confidence.
    Shapes do not depend on the fonts: `shape_seed` keeps the benchmark's apart from validation's."""
    rows = []
    rng = np.random.default_rng([seed, 4])
    for i in range(count):  # letters cycled, each letter cycles the fonts
        ink = handwriting.render_char(fonts[(i // len(LETTERS)) % len(fonts)], LETTERS[i % len(LETTERS)], rng, CANVAS)
        _, flag, confidence = read_digit(predictor, ENCODINGS[rng.integers(len(ENCODINGS))][1](ink, rng))
        rows.append(("letter", flag, confidence < 0.5))
    rng = np.random.default_rng(shape_seed)
    generators = list(shape_generators().items())
    for i in range(count):
        name, generate = generators[i % len(generators)]
        ink = handwriting.place(generate(rng), rng, CANVAS)
        _, flag, confidence = read_digit(predictor, ENCODINGS[rng.integers(len(ENCODINGS))][1](ink, rng))
        rows.append((name, flag, confidence < 0.5))
    return {key: np.array(column) for key, column in zip(("kind", "flagged", "low_conf"), zip(*rows))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=2000, help="single digits (default 2000)")
    parser.add_argument("--numbers", type=int, default=250, help="5-digit numbers per spacing (default 250)")
    parser.add_argument("--negatives", type=int, default=384, help="letters, and shapes and scribbles (default 384)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", default=None, help="model name in the store (default: the active model)")
    parser.add_argument("--split", default="benchmark", choices=("benchmark", "validation"),
                        help="font families to draw with (default benchmark; tune on validation)")
    args = parser.parse_args()

    predictor = load_predictor(args.model)
    fonts = handwriting.fonts(args.split)
    started = time.perf_counter()
    print(f"model {predictor.name!r}, seed {args.seed}, {args.split} fonts: {', '.join(map(family, fonts))}")

    d = single_digits(predictor, fonts, args.count, args.seed)
    print(f"\n1. single digits: {len(d['ours'])} ({time.perf_counter() - started:.0f} s)")
    columns = {"ours": d["ours"], "textbook": d["textbook"], "flagged": d["flagged"]}
    for key in ("encoding", "digit", "family"):
        table(key, d[key], columns)
        print()
    print(f"ours right {d['ours'].sum()}/{len(d['ours'])} ({pct(d['ours'].sum(), len(d['ours']))}), "
          f"textbook {d['textbook'].sum()} ({pct(d['textbook'].sum(), len(d['ours']))})")
    print(f"digits wrongly flagged as not a digit: ours {d['flagged'].sum()} "
          f"({pct(d['flagged'].sum(), len(d['ours']))}), p<0.5 rule {d['low_conf'].sum()} "
          f"({pct(d['low_conf'].sum(), len(d['ours']))})")

    mark = time.perf_counter()
    n, seconds = numbers(predictor, fonts, args.numbers, args.seed)
    print(f"\n2. 5-digit numbers: {args.numbers} per spacing ({time.perf_counter() - mark:.0f} s); read exactly:")
    for spacing in ("natural", "tight"):
        sel = n["spacing"] == spacing
        print(f"-- {spacing}")
        table("encoding", n["encoding"][sel], {"read_number": n["ours"][sel], "naive": n["naive"][sel],
                                               "all 5 alone": n["alone"][sel]})
    print(f"read_number time: median {1000 * np.median(seconds):.0f} ms, "
          f"95th percentile {1000 * np.percentile(seconds, 95):.0f} ms")

    sure = n["confidence"] >= 0.99
    print(f"\n3. confidence of the {len(sure)} number readings: {sure.sum()} ({pct(sure.sum(), len(sure))}) "
          f"have confidence >= 0.99, of which {n['ours'][sure].sum()} ({pct(n['ours'][sure].sum(), sure.sum())}) exact")
    print(f"{'confidence':<18}{'count':>6}{'mean conf':>13}{'exact':>13}")
    for low, high in zip(BINS, BINS[1:]):
        sel = (n["confidence"] >= low) & ((n["confidence"] < high) | (high == 1.0))
        mean = f"{n['confidence'][sel].mean():.3f}" if sel.any() else "-"
        print(f"{f'{low}-{high}':<18}{sel.sum():>6}{mean:>13}{pct(n['ours'][sel].sum(), sel.sum()):>13}")

    mark = time.perf_counter()
    neg = not_digits(predictor, fonts, args.negatives, args.seed, SHAPE_SEEDS[args.split] + args.seed)
    print(f"\n4. not a digit, share flagged ({time.perf_counter() - mark:.0f} s; letters without {DIGIT_LIKE})")
    table("kind", neg["kind"], {"ours": neg["flagged"], "p<0.5 rule": neg["low_conf"]})
    letters, shapes = neg["kind"] == "letter", neg["kind"] != "letter"

    mark = time.perf_counter()
    images, _ = load_mnist("test")
    results = [r for start in range(0, len(images), 1000)
               for r in predictor.classify(images[start : start + 1000].astype(np.float32))]
    mnist_flagged = np.array([not r.is_digit for r in results])
    mnist_low = np.array([r.confidence < 0.5 for r in results])
    print(f"\n5. MNIST test digits wrongly flagged ({time.perf_counter() - mark:.0f} s): ours {mnist_flagged.sum()}"
          f"/{len(results)} ({pct(mnist_flagged.sum(), len(results))}), p<0.5 rule {mnist_low.sum()} "
          f"({pct(mnist_low.sum(), len(results))})")

    per_digit = {label: d["ours"][d["digit"] == label].mean() for label in DIGITS}
    worst = min(per_digit, key=per_digit.__getitem__)
    natural, tight = n["ours"][n["spacing"] == "natural"], n["ours"][n["spacing"] == "tight"]
    summary = [  # figure, ours, target, met
        ("single digits right", d["ours"].mean(), ">= 99.5%", d["ours"].mean() >= 0.995),
        (f"worst digit ({worst}) right", per_digit[worst], ">= 99.0%", per_digit[worst] >= 0.99),
        ("numbers natural exact", natural.mean(), ">= 97%", natural.mean() >= 0.97),
        ("numbers tight exact", tight.mean(), ">= 85%", tight.mean() >= 0.85),
        ("confidence>=0.99 exact", n["ours"][sure].mean() if sure.any() else np.nan, ">= 99%",
         sure.any() and n["ours"][sure].mean() >= 0.99),
        ("letters flagged", neg["flagged"][letters].mean(), ">= 95%", neg["flagged"][letters].mean() >= 0.95),
        ("shapes+scribbles flagged", neg["flagged"][shapes].mean(), ">= 95%", neg["flagged"][shapes].mean() >= 0.95),
        ("digits wrongly flagged", d["flagged"].mean(), "<= 1%", d["flagged"].mean() <= 0.01),
        ("MNIST test wrongly flagged", mnist_flagged.mean(), "<= 1%", mnist_flagged.mean() <= 0.01),
    ]
    print(f"\nsummary, model {predictor.name!r} ({time.perf_counter() - started:.0f} s in all)")
    print(f"{'figure':<28}{'ours':>9}{'target':>10}{'met':>5}")
    for figure, ours, target, met in summary:
        print(f"{figure:<28}{100 * ours:>8.2f}%{target:>10}{'yes' if met else 'NO':>5}")


if __name__ == "__main__":
    main()
