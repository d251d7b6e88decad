"""Initializers of the references, as Keras configs (each use gets a fresh instance: a shared
unseeded initializer can repeat its values), and the ones papers prescribe that Keras lacks."""

import tensorflow as tf

from keras_backbones.backend import keras, register_serializable


# nn.init.kaiming_normal_(mode="fan_out"): how torchvision and timm initialize convolutions.
HE_NORMAL_FAN_OUT = {"class_name": "VarianceScaling",
                     "config": {"scale": 2.0, "mode": "fan_out", "distribution": "untruncated_normal"}}
# nn.init.kaiming_normal_ with its default mode (fan_in).
HE_NORMAL_FAN_IN = {"class_name": "VarianceScaling",
                    "config": {"scale": 2.0, "mode": "fan_in", "distribution": "untruncated_normal"}}
# PyTorch's default for nn.Linear / nn.Conv weights: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
TORCH_DEFAULT_UNIFORM = {"class_name": "VarianceScaling",
                         "config": {"scale": 1.0 / 3.0, "mode": "fan_in", "distribution": "uniform"}}
# U(+-1 / sqrt(fan_out)): timm's classifier (_init_weight_goog), torchvision's EfficientNet
# classifier; on a depthwise kernel at multiplier 1 (Keras's fan-out k x k is PyTorch's
# fan-in), PyTorch's default initialization of a depthwise nn.Conv2d.
UNIFORM_FAN_OUT = {"class_name": "VarianceScaling",
                   "config": {"scale": 1.0 / 3.0, "mode": "fan_out", "distribution": "uniform"}}


def normal(stddev):
    """N(0, stddev), as a config (a fresh instance per use)."""
    return {"class_name": "RandomNormal", "config": {"mean": 0.0, "stddev": stddev}}


# N(0, 0.01): the linear layers of torchvision's VGG, AlexNet, GoogLeNet, MobileNetV2/V3,
# RegNet and SqueezeNet classifiers (nn.init.normal_(w, 0, 0.01)).
NORMAL_001 = normal(0.01)
# N(0, 0.02): timm's transformer linear layers (ViT, Swin: trunc_normal_(std=.02)).
NORMAL_002 = normal(0.02)


def get(identifier):
    """A fresh initializer from a name, a config dict or an instance."""
    if isinstance(identifier, (str, dict)):
        return keras.initializers.get(plain_copy(identifier))
    return identifier


def plain_copy(config):
    """A copy of a config made of plain dicts, lists and tuples. A dict held by a layer's
    attribute is the Kerases' tracking wrapper, which refers to the layer: `copy.deepcopy`
    of it copies the layer itself (Keras 3 by saving the whole model to memory), which once
    took 60% of building a ResNeSt, each of whose layers copies its initializer."""
    if isinstance(config, dict):
        return {key: plain_copy(value) for key, value in config.items()}
    if isinstance(config, (list, tuple)):
        return (tuple if isinstance(config, tuple) else list)(plain_copy(v) for v in config)
    return config


@register_serializable
class FanInUniform(keras.initializers.Initializer):
    """U(-scale / fan_in, scale / fan_in): LeNet-5's initialization (LeCun et al. 1998,
    appendix C: 2.4 / F_i). Note the bound falls as 1/F_i, not as 1/sqrt(F_i)."""

    def __init__(self, scale=2.4, seed=None):
        self.scale = scale
        self.seed = seed

    def __call__(self, shape, dtype=None, **kwargs):
        fan_in = 1
        for dim in shape[:-1]:
            fan_in *= int(dim)
        limit = self.scale / fan_in
        return tf.random.uniform(shape, -limit, limit, dtype=dtype or "float32", seed=self.seed)

    def get_config(self):
        return {"scale": self.scale, "seed": self.seed}
