"""The architecture registry: name -> a function building a Keras model.

Every model takes a batch of 28x28 images in MNIST convention (float32, ink 0..255) and
scales them itself, so a prepared image goes straight in. Training models end in logits;
`with_softmax` adds the calibrated softmax head that is saved and served.
"""

from __future__ import annotations

from collections.abc import Callable

import digitclf.tf_setup  # noqa: F401  (quiets TensorFlow: before it loads)

import keras
from keras import layers

from digitclf.errors import ConfigError
from digitclf.training.config import ARCHITECTURE_NAMES

INPUT_SHAPE = (28, 28)
TEMPERATURE_LAYER = "temperature"
NUM_CLASSES = 10


def _input_block(
    shape: tuple[int, int] = INPUT_SHAPE,
) -> tuple[keras.KerasTensor, keras.KerasTensor]:
    inputs = keras.Input(shape=shape, name="image")
    x = layers.Rescaling(1 / 255.0)(inputs)
    x = layers.Reshape((*shape, 1))(x)
    return inputs, x


def _conv_bn(x, filters: int, kernel_size: int = 3, padding: str = "same"):
    x = layers.Conv2D(filters, kernel_size, padding=padding, use_bias=False)(x)
    x = layers.BatchNormalization(momentum=0.9)(x)
    return layers.ReLU()(x)


def _dense_bn(x, units: int):
    x = layers.Dense(units, use_bias=False)(x)
    x = layers.BatchNormalization(momentum=0.9)(x)
    return layers.ReLU()(x)


def build_mlp() -> keras.Model:
    """The classic 512-512 dense network with dropout (the ~98% baseline)."""
    inputs, x = _input_block()
    x = layers.Flatten()(x)
    for _ in range(2):
        x = layers.Dense(512, activation="relu")(x)
        x = layers.Dropout(0.2)(x)
    return keras.Model(inputs, layers.Dense(NUM_CLASSES, name="logits")(x), name="mlp")


def build_cnn(outputs: int = NUM_CLASSES, filters: tuple[int, int, int] = (16, 32, 64)) -> keras.Model:
    """A small, quick convnet (about 1.5M multiply-adds per image): the `fast` preset's
    network (and, with one output and wider `filters`, the not-a-digit detector's). The
    full-resolution layer has no batch norm: there it costs more time than it buys accuracy in
    a one-epoch run."""
    inputs, x = _input_block()
    x = layers.Conv2D(filters[0], 3, padding="same", activation="relu")(x)
    x = layers.MaxPooling2D()(x)
    x = _conv_bn(x, filters[1])
    x = layers.MaxPooling2D()(x)
    x = _conv_bn(x, filters[2])
    x = layers.MaxPooling2D()(x)
    x = layers.Flatten()(x)
    x = _dense_bn(x, 128)
    return keras.Model(inputs, layers.Dense(outputs, name="logits")(x), name="cnn")


def build_slim(shape: tuple[int, int] = INPUT_SHAPE, outputs: int = NUM_CLASSES,
               name: str = "slim") -> keras.Model:
    """VGG's recipe at a quarter of its cost (about 6M multiply-adds per image): one conv per
    full- and half-resolution stage, the depth at 7x7. The shipped default (and, on a whole
    piece of a number, the pair reader)."""
    inputs, x = _input_block(shape)
    for filters in (32, 64):
        x = _conv_bn(x, filters)
        x = layers.MaxPooling2D()(x)
    x = layers.Dropout(0.1)(x)
    x = _conv_bn(x, 96, padding="valid")
    x = _conv_bn(x, 96, padding="valid")
    x = layers.Flatten()(x)
    x = layers.Dropout(0.3)(_dense_bn(x, 128))
    return keras.Model(inputs, layers.Dense(outputs, name="logits")(x), name=name)


def build_vgg() -> keras.Model:
    """A VGG-style convnet (3 stages of two 3x3 convs with batch norm, about 21M
    multiply-adds per image): the most accurate, and the slowest."""
    inputs, x = _input_block()
    for filters in (32, 64):
        x = _conv_bn(x, filters)
        x = _conv_bn(x, filters)
        x = layers.MaxPooling2D()(x)
        x = layers.Dropout(0.1)(x)
    x = _conv_bn(x, 128, padding="valid")
    x = _conv_bn(x, 128, padding="valid")
    x = layers.Flatten()(x)
    x = layers.Dropout(0.3)(_dense_bn(x, 128))
    return keras.Model(inputs, layers.Dense(NUM_CLASSES, name="logits")(x), name="vgg")


ARCHITECTURES: dict[str, Callable[[], keras.Model]] = {
    "mlp": build_mlp,
    "cnn": build_cnn,
    "slim": build_slim,
    "vgg": build_vgg,
}
assert tuple(ARCHITECTURES) == ARCHITECTURE_NAMES, "keep config.ARCHITECTURE_NAMES in step"


def build_model(architecture: str) -> keras.Model:
    try:
        builder = ARCHITECTURES[architecture]
    except KeyError:
        raise ConfigError(
            f"unknown architecture {architecture!r}: choose one of {', '.join(ARCHITECTURES)}"
        ) from None
    return builder()


def with_softmax(logits_model: keras.Model, temperature: float = 1.0) -> keras.Model:
    """The served model: logits divided by the fitted temperature, then softmax."""
    scaled = layers.Rescaling(1.0 / temperature, name=TEMPERATURE_LAYER)(logits_model.output)
    probabilities = layers.Softmax(name="probabilities")(scaled)
    return keras.Model(logits_model.input, probabilities, name=logits_model.name)
