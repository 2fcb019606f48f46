"""Why the model read a digit: which ink argued for it, and which for the runner-up.

The method is **occlusion sensitivity on the logit margin**, at three patch sizes:

- *What is measured*: the margin m(x) = logit[digit] - logit[runner-up] of the model's
  pre-softmax output (the stored graph without its final Softmax, see `logits_net`). On a
  confident model the softmax saturates: a probability of 0.998 barely moves, while the
  margin still says how much each part of the drawing matters. Against the runner-up, and
  not the digit's logit alone, because that is the question a person asks ("why 7 and not 1?")
  and it cancels what lifts every logit together.
- *How*: square patches of the input are set to the background (0, as the model's inputs
  have it), and the margin each removal costs is shared out over the ink that patch removed,
  in proportion to the ink (the background removed nothing, so it gets none). Patches of 4,
  8 and 12 pixels at a stride of 4, sticking out of the input where needed, so that every
  pixel lies under 14 of them: its evidence is the mean of its shares, in logits.
- *Why several sizes, not small patches alone*: the model reads a digit from redundant
  strokes, so removing a 4x4 piece of a well-drawn digit often *raises* the margin (the rest
  of the stroke still says it): on 200 MNIST test digits, of those read with a margin above
  the lowest fifth, 4x4 patches at stride 2 gave maps that add up to evidence *against* the
  digit read for a quarter; these patches for about 1%. Removing the fifth of the ink the
  map rates highest costs the margin 4.5 logits (4x4 patches alone: 4.9; random ink: 0.8).
- *Why not gradients*: plain gradients are local and saturate; integrated gradients and
  Grad-CAM need the Keras model (TensorFlow: seconds to load, tens of milliseconds a
  call), and Grad-CAM's map has the last convolution's resolution. Occlusion needs only
  forward passes: about 100 occluded copies of the input in one ONNX Runtime call, a few
  tens of milliseconds for a drawing, with any stored ONNX model that ends in a softmax.

What occlusion cannot show: evidence from ink that is *missing* (an open 4 against a closed
9) is not on the map, since setting the background to background changes nothing.

    e = predictor.explain(image)   # e.digit, e.against, e.evidence (28x28), e.image_evidence
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from digitclf.errors import BrokenModelError
from digitclf.imaging.preprocess import IDENTITY, Placement
from digitclf.runtime import Net, OnnxNet, run_batched

PATCH_SIZES = (4, 8, 12)
STRIDE = 4
BACKGROUND = 0.0  # the model inputs' background (MNIST convention: ink 0..255 on 0)


@dataclass(frozen=True)
class Explanation:
    digit: int  # the digit read (the model's first choice, as predict_image reads it)
    runner_up: int  # the model's second choice
    against: int  # the digit the evidence is weighed against: the runner-up unless asked
    margin: float  # logit of `digit` less logit of `against` (the logits the softmax sees)
    evidence: np.ndarray  # float32 (28, 28), logits: > 0 for `digit`, < 0 for `against`
    model_input: np.ndarray  # float32 (28, 28), what the model saw
    placement: Placement  # where the model input lies in the image
    image_evidence: np.ndarray  # float32 (H, W): `evidence` drawn onto the image's pixels


def logits_net(path: Path) -> Net:
    """The stored ONNX graph without its final Softmax: (N, 28, 28) -> logits (N, 10), the
    calibrated logits (divided by the card's temperature) whose softmax is the prediction."""
    import onnx  # only explanations need it, not every prediction

    model = onnx.load(str(path))
    graph = model.graph
    output = graph.output[0].name
    last = next((node for node in graph.node if output in node.output), None)
    if last is None or last.op_type != "Softmax":
        raise BrokenModelError(f"{path} does not end in a softmax: there are no logits to explain")
    graph.node.remove(last)
    graph.output[0].name = last.input[0]
    return OnnxNet(model.SerializeToString())


def _patches() -> np.ndarray:
    """Every patch as a flat mask (P, 784). Patches may stick out of the input, so that every
    pixel is covered by as many: COVERAGE."""
    masks = []
    for size in PATCH_SIZES:
        starts = range(STRIDE - size, 28, STRIDE)
        for top in starts:
            for left in starts:
                mask = np.zeros((28, 28), bool)
                mask[max(top, 0) : top + size, max(left, 0) : left + size] = True
                masks.append(mask.ravel())
    return np.array(masks)


MASKS = _patches()
COVERAGE = sum((size // STRIDE) ** 2 for size in PATCH_SIZES)  # patches over each pixel: 14


def occlusion_evidence(logits: Net, model_input: np.ndarray, against: int | None = None
                       ) -> tuple[np.ndarray, np.ndarray]:
    """The evidence map (float32 28x28) and the input's logits (10,). The patches holding
    ink go through `logits` in one batch, after the input itself."""
    x = np.asarray(model_input, np.float32).ravel()
    ink = MASKS @ x  # each patch's ink
    hit = np.flatnonzero(ink > 0)
    batch = np.where(MASKS[hit], np.float32(BACKGROUND), x)
    z = run_batched(logits, np.concatenate([x[None], batch]).reshape(-1, 28, 28))
    digit = int(z[0].argmax())
    other = _runner_up(z[0]) if against is None else against
    margins = z[:, digit] - z[:, other]
    weights = (margins[0] - margins[1:]) / (COVERAGE * ink[hit])
    evidence = x * (weights @ MASKS[hit])
    return evidence.reshape(28, 28).astype(np.float32), z[0]


def _runner_up(logits: np.ndarray) -> int:
    return int(np.argsort(logits)[-2])


def _linear(count: int, start: float, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Linear interpolation from the 28 input pixels onto `count` image pixels along one
    axis, for an input whose pixel edges lie at start + i * scale: for each image pixel the
    input pixel before it (as an index into the input padded by 2 zeros: 0 beyond its edge)
    and the weight of the one after."""
    centres = (np.arange(count) + 0.5 - start) / scale - 0.5
    before = np.floor(centres)
    return np.clip(before + 2, 0, 30).astype(np.intp), (centres - before).astype(np.float32)


def onto_image(map28: np.ndarray, placement: Placement) -> np.ndarray:
    """A 28x28 map over the model input, resampled onto the image's pixels (H, W)."""
    height, width = placement.image_shape
    padded = np.pad(np.asarray(map28, np.float32), 2)
    rows, row_weight = _linear(height, placement.top, placement.row_scale)
    cols, col_weight = _linear(width, placement.left, placement.col_scale)
    by_rows = padded[rows] * (1 - row_weight)[:, None] + padded[rows + 1] * row_weight[:, None]
    return by_rows[:, cols] * (1 - col_weight) + by_rows[:, cols + 1] * col_weight


def explain_input(logits: Net, model_input: np.ndarray, against: int | None = None,
                  placement: Placement = IDENTITY) -> Explanation:
    """Explain a prepared input (float32 28x28, as `preprocess` makes it) with the logits
    net `logits`; `placement` says where it lies in the image it came from."""
    model_input = np.asarray(model_input, np.float32)
    if model_input.shape != (28, 28):
        raise ValueError(f"expected a prepared input of shape (28, 28), got {model_input.shape}")
    if against is not None and against not in range(10):
        raise ValueError(f"against must be a digit 0-9, got {against!r}")
    evidence, z = occlusion_evidence(logits, model_input, against)
    digit, runner_up = int(z.argmax()), _runner_up(z)
    other = runner_up if against is None else against
    if other == digit:
        raise ValueError(f"the model read a {digit}: weigh it against another digit")
    return Explanation(digit, runner_up, other, float(z[digit] - z[other]), evidence, model_input,
                       placement, onto_image(evidence, placement))
