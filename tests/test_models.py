import keras
import numpy as np
import pytest
from keras import layers

from digitclf.convert.keras_graph import compile_inference, fold_batch_norm
from digitclf.convert.onnx_graph import UnsupportedModel, keras_net, to_onnx
from digitclf.runtime import CHUNK, TOGETHER_MIN, OnnxNet, run_batched, run_together
from digitclf.training.architectures import ARCHITECTURES, build_cnn, build_model, build_slim, with_softmax
from digitclf.training.data import load_mnist


def _with_batch_statistics(model: keras.Model) -> keras.Model:
    """Untrained batch norm statistics are the identity: give them values that matter."""
    rng = np.random.default_rng(0)
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            n = layer.get_weights()[0].shape[0]
            layer.set_weights([rng.uniform(0.5, 2, n), rng.normal(0, 0.1, n),
                               rng.normal(0, 1, n), rng.uniform(0.5, 2, n)])
    return model


@pytest.mark.parametrize("architecture", list(ARCHITECTURES))
def test_folding_batch_norm_keeps_the_predictions(architecture):
    served = with_softmax(_with_batch_statistics(build_model(architecture)), temperature=1.3)
    folded = fold_batch_norm(served)
    assert not any(isinstance(layer, (layers.BatchNormalization, layers.Dropout)) for layer in folded.layers)
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
    with pytest.raises(UnsupportedModel, match="not a plain chain"):
        to_onnx(model)


@pytest.mark.parametrize("architecture", list(ARCHITECTURES))
def test_onnx_translation_gives_the_keras_predictions(architecture):
    served = with_softmax(_with_batch_statistics(build_model(architecture)), temperature=1.3)
    images = load_mnist("test")[0][:200].astype(np.float32)
    expected = served.predict(images, verbose=0)
    probabilities = OnnxNet(to_onnx(served).SerializeToString())(images)
    np.testing.assert_allclose(probabilities, expected, atol=1e-5)
    assert (probabilities.argmax(axis=1) == expected.argmax(axis=1)).all()


def test_onnx_translation_of_a_net_on_wider_images():
    """The pair reader's shape: build_slim on 28x56 images with 23 outputs."""
    model = _with_batch_statistics(build_slim((28, 56), 23, name="wide"))
    digits = load_mnist("test")[0]
    images = np.concatenate([digits[:100], digits[100:200]], axis=2)  # two digits side by side
    expected = model.predict(images.astype(np.float32), verbose=0)
    assert expected.shape == (100, 23)
    np.testing.assert_allclose(OnnxNet(to_onnx(model).SerializeToString())(images), expected,
                               atol=1e-4)


def test_a_model_onnx_cannot_express_runs_on_tensorflow_instead():
    inputs = layers.Input((28, 28))
    x = layers.Flatten()(inputs)
    model = keras.Model(inputs, layers.Dense(10, activation="gelu")(x))
    with pytest.raises(UnsupportedModel, match="activation 'gelu'"):
        to_onnx(model)
    images = load_mnist("test")[0][:50].astype(np.float32)
    np.testing.assert_allclose(keras_net(model)(images), model.predict(images, verbose=0), rtol=1e-5, atol=1e-5)


def test_run_batched_keeps_order_across_chunks():
    model = with_softmax(build_model("cnn"))
    images = load_mnist("test")[0][: CHUNK * 3 + 5].astype(np.float32)
    net = OnnxNet(to_onnx(model).SerializeToString())
    np.testing.assert_allclose(run_batched(net, images), net(images), atol=1e-6)


def test_run_together_gives_each_net_its_own_outputs():
    classifier = OnnxNet(to_onnx(build_model("cnn")).SerializeToString())
    detector = OnnxNet(to_onnx(build_cnn(outputs=1, filters=(4, 8, 8))).SerializeToString())
    for count in (1, TOGETHER_MIN + 10):  # one after the other, and on threads
        images = load_mnist("test")[0][:count].astype(np.float32)
        first, second = run_together([classifier, detector], images)
        assert first.shape == (count, 10) and second.shape == (count, 1)
        np.testing.assert_allclose(first, classifier(images), atol=1e-6)
        np.testing.assert_allclose(second, detector(images), atol=1e-6)
