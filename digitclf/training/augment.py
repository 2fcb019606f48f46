"""Training-time augmentation that mimics real handwriting, run on whole batches in tf.data.

Each image gets one random affine warp (rotation, slant, scale, shift) and a random change
of stroke thickness. Randomness is stateless and keyed by (seed, batch index), so the same
seed gives the same training run.
"""

from __future__ import annotations

import math

import digitclf.tf_setup  # noqa: F401  (quiets TensorFlow: before it loads)

import tensorflow as tf

# Ranges at strength 1.0; `strength` scales them all.
MAX_ROTATION_DEG = 12.0
MAX_SHEAR = 0.25  # horizontal slant: x shifts by shear * y (about 14 degrees)
MAX_SCALE_DELTA = 0.15
MAX_SHIFT_PX = 2.5
CENTRE = 13.5


def _affine_transforms(seed: tf.Tensor, batch: tf.Tensor, strength: float) -> tf.Tensor:
    """Per-image 8-parameter transforms mapping output pixels to input pixels."""
    u = tf.random.stateless_uniform((batch, 6), seed=seed, minval=-1.0, maxval=1.0)
    angle = u[:, 0] * (MAX_ROTATION_DEG * strength * math.pi / 180.0)
    shear = u[:, 1] * (MAX_SHEAR * strength)
    scale_x = 1.0 + u[:, 2] * (MAX_SCALE_DELTA * strength)
    scale_y = scale_x * (1.0 + 0.5 * u[:, 3] * (MAX_SCALE_DELTA * strength))
    shift_x = u[:, 4] * (MAX_SHIFT_PX * strength)
    shift_y = u[:, 5] * (MAX_SHIFT_PX * strength)
    cos, sin = tf.cos(angle), tf.sin(angle)
    # Inverse map of: scale, then shear, then rotate about the centre, then shift.
    a00 = (cos + shear * sin) / scale_x
    a01 = (sin - shear * cos) / scale_x
    a10 = -sin / scale_y
    a11 = cos / scale_y
    dx = -CENTRE - shift_x
    dy = -CENTRE - shift_y
    a02 = CENTRE + a00 * dx + a01 * dy
    a12 = CENTRE + a10 * dx + a11 * dy
    zeros = tf.zeros_like(a00)
    return tf.stack([a00, a01, a02, a10, a11, a12, zeros, zeros], axis=1)


def _stroke_thickness(images: tf.Tensor, seed: tf.Tensor, strength: float) -> tf.Tensor:
    """Blend each image towards its grey dilation (thicker) or erosion (thinner)."""
    batch = tf.shape(images)[0]
    amount = tf.random.stateless_uniform((batch, 1, 1, 1), seed=seed, minval=-0.6, maxval=1.0)
    amount = amount * strength
    dilated = tf.nn.max_pool2d(images, 3, 1, "SAME")
    eroded = -tf.nn.max_pool2d(-images, 2, 1, "SAME")
    thicker = images + tf.maximum(amount, 0.0) * (dilated - images)
    return thicker + tf.maximum(-amount, 0.0) * (eroded - images)


def augment_batch(
    step: tf.Tensor, images: tf.Tensor, labels: tf.Tensor, seed: int, strength: float
) -> tuple[tf.Tensor, tf.Tensor]:
    """images: float32 (B, 28, 28) in 0..255 -> the same, warped and re-stroked."""
    key = tf.stack([tf.constant(seed, tf.int64), tf.cast(step, tf.int64)])
    key_warp = tf.random.experimental.stateless_fold_in(key, 1)
    key_stroke = tf.random.experimental.stateless_fold_in(key, 2)
    x = images[..., tf.newaxis]
    x = _stroke_thickness(x, key_stroke, strength)
    transforms = _affine_transforms(key_warp, tf.shape(x)[0], strength)
    x = tf.raw_ops.ImageProjectiveTransformV3(
        images=x,
        transforms=transforms,
        output_shape=tf.constant([28, 28], tf.int32),
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode="CONSTANT",
    )
    return tf.clip_by_value(x[..., 0], 0.0, 255.0), labels
