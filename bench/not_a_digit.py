"""How well `is_digit` flags what is not a digit, and how rarely it flags real digits.

Non-digits are drawn fresh (another seed than training, letters from held-out fonts):
printed and hand-drawn letters, scribbles, shapes, crossed-out digits, smudges. Digits are
the 10,000 MNIST test digits given to predict_image as images. The reference is the usual
trick of flagging low classifier confidence, with its threshold set to flag the same share
of test digits as ours, measured on the same images in the same run.

    python bench/not_a_digit.py --count 2000
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from digitclf.errors import NoDigitError
from digitclf.reading.predictor import load_predictor
from digitclf.training import negatives
from digitclf.training.data import load_mnist

TARGET_KINDS = ("letter", "handwritten_letter", "scribble", "shape")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=2000, help="non-digit images")
    parser.add_argument("--digits", type=int, default=10000, help="MNIST test digits")
    parser.add_argument("--seed", type=int, default=12345)
    parser.add_argument("--model", default=None)
    args = parser.parse_args()

    predictor = load_predictor(args.model)
    started = time.perf_counter()
    images, _ = load_mnist("test")
    digit_results = [predictor.predict_image(img) for img in images[: args.digits]]
    digit_flagged = np.array([not r.is_digit for r in digit_results])
    digit_conf = np.array([r.confidence for r in digit_results])

    rng = np.random.default_rng(args.seed)
    _, heldout_fonts = negatives.split_fonts(negatives.font_files())
    train_images, _ = load_mnist("train")
    kinds, flagged, confidence = [], [], []
    while len(kinds) < args.count:
        kind, ink = negatives.generate(rng, heldout_fonts, train_images[:5000])
        try:
            result = predictor.predict_image(ink)
        except NoDigitError:
            continue  # refused outright: not counted either way
        kinds.append(kind)
        flagged.append(not result.is_digit)
        confidence.append(result.confidence)
    kinds, flagged, confidence = np.array(kinds), np.array(flagged), np.array(confidence)
    # Reference: flag when confidence is below the level that flags as many digits as ours.
    cut = np.quantile(digit_conf, max(digit_flagged.mean(), 1e-4))
    ref_flagged = confidence < cut

    print(f"model {predictor.name}: {args.digits} MNIST test digits, {len(kinds)} non-digits "
          f"({time.perf_counter() - started:.0f} s)")
    print(f"MNIST test digits flagged: ours {digit_flagged.mean() * 100:.2f}%  "
          f"(reference set to the same: {(digit_conf < cut).mean() * 100:.2f}%)")
    print(f"{'non-digit kind':<20} {'count':>5} {'ours':>8} {'confidence<t':>13}")
    for kind in sorted(set(kinds)):
        sel = kinds == kind
        print(f"{kind:<20} {sel.sum():>5} {flagged[sel].mean() * 100:>7.1f}% "
              f"{ref_flagged[sel].mean() * 100:>12.1f}%")
    target = np.isin(kinds, TARGET_KINDS)
    print(f"{'target mix':<20} {target.sum():>5} {flagged[target].mean() * 100:>7.1f}% "
          f"{ref_flagged[target].mean() * 100:>12.1f}%   (letters, hand-drawn letters, scribbles, shapes)")
    print(f"{'all kinds':<20} {len(kinds):>5} {flagged.mean() * 100:>7.1f}% "
          f"{ref_flagged.mean() * 100:>12.1f}%")


if __name__ == "__main__":
    main()
