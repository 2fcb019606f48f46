"""Keras graph helpers for inference: is a model a plain chain of layers, batch norm folded
into the layer before it, and a graph-compiled call that skips Keras' predict() overhead."""

from __future__ import annotations

from collections.abc import Callable

import digitclf.tf_setup  # noqa: F401  (quiets TensorFlow: before it loads)

import keras
import numpy as np
import tensorflow as tf
from keras import layers

IMAGE_BATCH = tf.TensorSpec((None, 28, 28), tf.float32)
INFERENCE_BATCH = 1024


def is_chain(model: keras.Model) -> bool:
    """Whether each layer takes exactly the previous layer's output (all our architectures)."""
    previous = model.layers[0].output
    for layer in model.layers[1:]:
        if len(layer._inbound_nodes) != 1 or layer.input is not previous:
            return False
        previous = layer.output
    return True


def fold_batch_norm(model: keras.Model) -> keras.Model:
    """The same function for inference, cheaper: each batch norm folded into the conv or
    dense layer before it, dropout left out. Outputs agree to float rounding (~1e-6).
    A model that is not a plain chain of layers comes back unchanged."""
    if not is_chain(model):
        return model
    chain = model.layers[1:]
    inputs = keras.Input(model.input.shape[1:], name=model.layers[0].name)
    x = inputs
    for layer, following in zip(chain, chain[1:] + [None]):
        if isinstance(layer, (layers.BatchNormalization, layers.Dropout)):
            continue
        config, weights = layer.get_config(), layer.get_weights()
        if isinstance(following, layers.BatchNormalization):
            gamma, beta, mean, variance = following.get_weights()
            scale = gamma / np.sqrt(variance + following.epsilon)
            bias = weights[1] if len(weights) > 1 else 0.0
            weights = [weights[0] * scale, (bias - mean) * scale + beta]
            config["use_bias"] = True
        folded = layer.__class__.from_config(config)
        x = folded(x)
        folded.set_weights(weights)
    return keras.Model(inputs, x, name=model.name)


def compile_inference(model: keras.Model) -> Callable:
    """A graph-compiled call on a batch of images: Keras' predict() costs tens of ms per
    call in overhead, this a fraction of one. It follows the model's weights as they change."""
    return tf.function(lambda x: model(x, training=False), input_signature=[IMAGE_BATCH])


def predict_in_batches(infer: Callable, x: np.ndarray) -> np.ndarray:
    """`infer` (a compiled call) over float32 (N, 28, 28), INFERENCE_BATCH images at a time."""
    return np.concatenate(
        [infer(x[i : i + INFERENCE_BATCH]).numpy() for i in range(0, len(x), INFERENCE_BATCH)]
    )
