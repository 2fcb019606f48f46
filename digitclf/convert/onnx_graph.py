"""Keras -> ONNX: our architectures translated weight for weight, for ONNX Runtime.

`to_onnx` handles a chain of the layers our architectures use (batch norm is folded into
the layer before it first). A trained model is saved with its translation beside it
(digitclf.training.publish), so a prediction loads neither TensorFlow nor Keras; `keras_net` runs any other model with
TensorFlow's compiled call instead.
"""

from __future__ import annotations

import digitclf.tf_setup  # noqa: F401  (quiets TensorFlow: before it loads)

import keras
import numpy as np
import onnx
from keras import layers
from onnx import TensorProto, helper, numpy_helper

from digitclf.convert.keras_graph import compile_inference, fold_batch_norm, is_chain
from digitclf.runtime import Net, OnnxNet

OPSET = 17
INPUT_NAME = "image"


class UnsupportedModel(ValueError):
    """The model has a layer or an option `to_onnx` does not translate."""


class _Graph:
    """Collects ONNX nodes and weights while walking the layers; tracks the current tensor."""

    def __init__(self, image_shape: tuple[int, int]) -> None:
        self.image_shape = image_shape  # (height, width) of the input images
        self.nodes: list[onnx.NodeProto] = []
        self.weights: list[onnx.TensorProto] = []
        self.current = INPUT_NAME
        self.channels_first = False  # after the reshape to an image, tensors are NCHW

    def constant(self, name: str, value: np.ndarray | np.generic) -> str:
        self.weights.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def add(self, op: str, *inputs: str, name: str, **attributes) -> None:
        self.nodes.append(helper.make_node(op, [self.current, *inputs], [name], name=name,
                                           **attributes))
        self.current = name


def _activation(graph: _Graph, layer: layers.Layer) -> None:
    name = keras.activations.serialize(layer.activation)
    name = name if isinstance(name, str) else name.get("config", {}).get("name", str(name))
    if name == "relu":
        graph.add("Relu", name=f"{layer.name}/relu")
    elif name == "softmax":
        graph.add("Softmax", name=f"{layer.name}/softmax", axis=-1)
    elif name != "linear":
        raise UnsupportedModel(f"activation {name!r} in layer {layer.name!r}")


def _padding(padding: str) -> str:
    return {"same": "SAME_UPPER", "valid": "VALID"}[padding]  # TF pads the extra pixel last


def _translate(graph: _Graph, layer: layers.Layer) -> None:
    n = layer.name
    if isinstance(layer, layers.Rescaling):
        graph.add("Mul", graph.constant(f"{n}/scale", np.float32(layer.scale)), name=f"{n}/mul")
        if layer.offset:
            graph.add("Add", graph.constant(f"{n}/offset", np.float32(layer.offset)), name=f"{n}/add")
    elif isinstance(layer, layers.Reshape):
        if tuple(layer.target_shape) != (*graph.image_shape, 1):
            raise UnsupportedModel(f"reshape to {layer.target_shape} in layer {n!r}")
        graph.add("Reshape", graph.constant(f"{n}/shape", np.array([-1, 1, *graph.image_shape])),
                  name=n)
        graph.channels_first = True  # one channel: NHWC and NCHW hold the same numbers
    elif isinstance(layer, layers.Conv2D) and type(layer) is layers.Conv2D:
        if tuple(layer.dilation_rate) != (1, 1) or layer.groups != 1:
            raise UnsupportedModel(f"dilated or grouped convolution {n!r}")
        kernel, *bias = layer.get_weights()
        inputs = [graph.constant(f"{n}/kernel", kernel.transpose(3, 2, 0, 1))]  # HWIO -> OIHW
        if bias:
            inputs.append(graph.constant(f"{n}/bias", bias[0]))
        graph.add("Conv", *inputs, name=n, kernel_shape=list(kernel.shape[:2]),
                  strides=list(layer.strides), auto_pad=_padding(layer.padding))
        _activation(graph, layer)
    elif isinstance(layer, layers.MaxPooling2D):
        graph.add("MaxPool", name=n, kernel_shape=list(layer.pool_size),
                  strides=list(layer.strides), auto_pad=_padding(layer.padding))
    elif isinstance(layer, layers.GlobalMaxPooling2D) and not layer.keepdims:
        graph.add("ReduceMax", name=n, axes=[2, 3], keepdims=0)
        graph.channels_first = False
    elif isinstance(layer, layers.Flatten):
        if graph.channels_first:  # Keras flattens in (height, width, channel) order
            graph.add("Transpose", name=f"{n}/to_nhwc", perm=[0, 2, 3, 1])
            graph.channels_first = False
        graph.add("Flatten", name=n, axis=1)
    elif isinstance(layer, layers.Dense):
        kernel, *bias = layer.get_weights()
        graph.add("MatMul", graph.constant(f"{n}/kernel", kernel), name=f"{n}/matmul")
        if bias:
            graph.add("Add", graph.constant(f"{n}/bias", bias[0]), name=f"{n}/bias_add")
        _activation(graph, layer)
    elif isinstance(layer, layers.ReLU) and layer.max_value is None and not layer.negative_slope \
            and not layer.threshold:
        graph.add("Relu", name=n)
    elif isinstance(layer, layers.Softmax):
        graph.add("Softmax", name=n, axis=-1)
    else:
        raise UnsupportedModel(f"layer {n!r} ({type(layer).__name__}) has no ONNX translation here")


def to_onnx(model: keras.Model) -> onnx.ModelProto:
    """The model (a chain of our layers on (N, height, width) images, such as MNIST's
    (N, 28, 28)) as an ONNX graph."""
    if not is_chain(model):
        raise UnsupportedModel("the model is not a plain chain of layers")
    folded = fold_batch_norm(model)
    image_shape = tuple(folded.input.shape[1:])
    if len(image_shape) != 2 or None in image_shape:
        raise UnsupportedModel(f"input shape {folded.input.shape} is not (None, height, width)")
    graph = _Graph(image_shape)
    for layer in folded.layers[1:]:
        _translate(graph, layer)
    if graph.channels_first:
        raise UnsupportedModel("the model does not end in a flat vector")
    outputs = int(folded.output.shape[-1])
    onnx_graph = helper.make_graph(
        graph.nodes, model.name,
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, [None, *image_shape])],
        [helper.make_tensor_value_info(graph.current, TensorProto.FLOAT, [None, outputs])],
        initializer=graph.weights,
    )
    proto = helper.make_model(onnx_graph, opset_imports=[helper.make_opsetid("", OPSET)])
    onnx.checker.check_model(proto)
    return proto


def keras_net(model: keras.Model) -> Net:
    """The fastest way we have to run `model`: ONNX Runtime, or for a model `to_onnx` cannot
    translate, TensorFlow's compiled call."""
    try:
        return OnnxNet(to_onnx(model).SerializeToString())
    except UnsupportedModel:
        compiled = compile_inference(fold_batch_norm(model))
        return lambda images: compiled(np.asarray(images, dtype=np.float32)).numpy()
