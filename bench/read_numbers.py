"""Benchmark: 5-digit numbers read exactly by Predictor.read_number, next to a naive reference.

    python bench/read_numbers.py [--count 1000] [--seed 0] [--model default] [--split test]

Each number is five random MNIST *test* digits (`--split train`: training digits, to tune
on) written side by side by synth.render_number (natural gaps, sizes and vertical jitter, a
sloping baseline, some touching pairs and broken digits) and delivered in every encoding of
synth.ENCODINGS. The reference reads the same images naively: one digit per connected
component of the ink, nothing joined or split. Also printed: the share of numbers whose five
digits the model reads right as the plain 28x28 MNIST images, a ceiling for any
segmentation.
"""

import argparse
import time
from collections import Counter

import numpy as np
from scipy import ndimage

from digitclf.errors import NoDigitError
from digitclf.imaging.decode import decode_image
from digitclf.imaging.preprocess import ink_map, to_mnist
from digitclf.reading.predictor import Predictor, load_predictor
from digitclf.training import synth
from digitclf.training.data import load_mnist

DIGITS = 5


def naive_read(predictor: Predictor, image: np.ndarray) -> str:
    """One digit per 8-connected component of the ink, left to right."""
    ink = ink_map(decode_image(image))
    labels, _ = ndimage.label(ink > 0, structure=np.ones((3, 3), dtype=bool))
    boxes = sorted(enumerate(ndimage.find_objects(labels), start=1), key=lambda item: item[1][1].start)
    inputs = []
    for label, (rows, cols) in boxes:
        crop = np.where(labels[rows, cols] == label, ink[rows, cols], 0.0)
        try:
            inputs.append(to_mnist(np.pad(crop, max(crop.shape) // 2 + 1)))
        except NoDigitError:
            continue
    if not inputs:
        return ""
    return "".join(str(d) for d in predictor.predict(np.stack(inputs)).argmax(axis=1))


def kind_of_error(truth: str, read: str) -> str:
    if len(read) < len(truth):
        return "digits missing (joined)"
    if len(read) > len(truth):
        return "digits too many (split)"
    return "a digit misread"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000, help="numbers per encoding (default 1000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", default="default", help="model name in the store (default: default)")
    parser.add_argument("--split", choices=("test", "train"), default="test",
                        help="MNIST digits to write the numbers with; tune on train (default: test)")
    parser.add_argument("--touch-prob", type=float, help="chance a digit touches the one before it "
                        "(default: render_number's)")
    parser.add_argument("--break-prob", type=float, help="chance a digit is drawn in two pieces "
                        "(default: render_number's)")
    args = parser.parse_args()

    predictor = load_predictor(args.model)
    images, labels = load_mnist(args.split)
    plainly_right = predictor.predict(images).argmax(axis=1) == labels
    rng = np.random.default_rng(args.seed)
    hardship = {key: value for key, value in
                (("touch_prob", args.touch_prob), ("break_prob", args.break_prob)) if value is not None}
    ours, naive, errors, seconds, naive_seconds = Counter(), Counter(), Counter(), [], []
    within_ceiling = 0
    examples: list[str] = []
    for _ in range(args.count):
        chosen = rng.choice(len(images), DIGITS, replace=False)
        ink, text = synth.render_number(images[chosen], labels[chosen], rng, **hardship)
        within_ceiling += plainly_right[chosen].all()
        for name, encode in synth.ENCODINGS.items():
            image = encode(ink, rng)
            start = time.perf_counter()
            read = predictor.read_number(image).text
            seconds.append(time.perf_counter() - start)
            ours[name] += read == text
            start = time.perf_counter()
            naive[name] += naive_read(predictor, image) == text
            naive_seconds.append(time.perf_counter() - start)
            if read != text:
                errors[kind_of_error(text, read)] += 1
                examples.append(f"{text} -> {read} ({name}, {ink.shape[1]}x{ink.shape[0]})")

    print(f"{args.count} numbers of {DIGITS} MNIST {args.split} digits per encoding, seed {args.seed}, "
          f"model {predictor.name!r}" + "".join(f", {k} {v}" for k, v in hardship.items()) + "\n")
    print(f"{'encoding':<18}{'read_number':>12}{'naive':>10}")
    for name in synth.ENCODINGS:
        print(f"{name:<18}{ours[name] / args.count:>12.1%}{naive[name] / args.count:>10.1%}")
    total = args.count * len(synth.ENCODINGS)
    print(f"{'overall':<18}{sum(ours.values()) / total:>12.1%}{sum(naive.values()) / total:>10.1%}")
    print(f"\nceiling: the model reads all five digits of {within_ceiling / args.count:.1%} of the "
          "numbers right as plain 28x28 MNIST images")
    print(f"\nread_number time: median {1000 * np.median(seconds):.0f} ms, "
          f"95th percentile {1000 * np.percentile(seconds, 95):.0f} ms; the naive reference on the same images: "
          f"median {1000 * np.median(naive_seconds):.0f} ms")
    if errors:
        print("\nerrors: " + ", ".join(f"{kind} {n}" for kind, n in errors.most_common()))
        print("\n".join(["examples:"] + examples[:12]))


if __name__ == "__main__":
    main()
