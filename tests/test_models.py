import keras
import numpy as np
import pytest
from keras import layers

from digitclf.data import load_mnist
from digitclf.models import ARCHITECTURES, build_model, compile_inference, fold_batch_norm, with_softmax


@pytest.mark.parametrize("architecture", list(ARCHITECTURES))
def test_folding_batch_norm_keeps_the_predictions(architecture):
    model = build_model(architecture)
    rng = np.random.default_rng(0)
    for layer in model.layers:  # untrained statistics are the identity: make them matter
        if isinstance(layer, layers.BatchNormalization):
            n = layer.get_weights()[0].shape[0]
            layer.set_weights([rng.uniform(0.5, 2, n), rng.normal(0, 0.1, n),
                               rng.normal(0, 1, n), rng.uniform(0.5, 2, n)])
    served = with_softmax(model, temperature=1.3)
    folded = fold_batch_norm(served)
    assert not any(isinstance(l, (layers.BatchNormalization, layers.Dropout)) for l in folded.layers)
    images = load_mnist("test")[0][:200].astype(np.float32)
    expected = served.predict(images, verbose=0)
    np.testing.assert_allclose(folded.predict(images, verbose=0), expected, atol=1e-5)
    np.testing.assert_allclose(compile_inference(served)(images).numpy(), expected, atol=1e-5)


def test_a_model_that_is_not_a_chain_is_left_as_it_is():
    inputs = layers.Input((28, 28))
    flat = layers.Flatten()(inputs)
    merged = layers.Add()([layers.Dense(10)(flat), layers.Dense(10)(flat)])
    model = keras.Model(inputs, merged)
    assert fold_batch_norm(model) is model
