"""VGG (Simonyan & Zisserman, 2014), as torchvision's `vgg*` and the paper's configuration C.

Five blocks of 3x3 convolutions (C adds a 1x1 convolution to blocks 3-5), each closed by a
2x2 max pool; then torchvision's adaptive 7x7 average pool and the 4096-4096 classifier.
"""

import functools

from keras_backbones import initializers, registry, weights
from keras_backbones.backend import keras
from keras_backbones.layers import AdaptiveAveragePooling2D, Flatten
from keras_backbones.models import _application as A
from keras_backbones.models import _builder as B

PAPER = registry.Paper("Very Deep Convolutional Networks for Large-Scale Image Recognition",
                       2014, "1409.1556")

# Table 1 of the paper: one list per block, one (channels, kernel) per convolution.
_3x3 = lambda c: (c, 3)  # noqa: E731
CONFIGS = {
    "A": [[_3x3(64)], [_3x3(128)], [_3x3(256)] * 2, [_3x3(512)] * 2, [_3x3(512)] * 2],
    "B": [[_3x3(64)] * 2, [_3x3(128)] * 2, [_3x3(256)] * 2, [_3x3(512)] * 2, [_3x3(512)] * 2],
    "C": [[_3x3(64)] * 2, [_3x3(128)] * 2, [_3x3(256)] * 2 + [(256, 1)],
          [_3x3(512)] * 2 + [(512, 1)], [_3x3(512)] * 2 + [(512, 1)]],
    "D": [[_3x3(64)] * 2, [_3x3(128)] * 2, [_3x3(256)] * 3, [_3x3(512)] * 3, [_3x3(512)] * 3],
    "E": [[_3x3(64)] * 2, [_3x3(128)] * 2, [_3x3(256)] * 4, [_3x3(512)] * 4, [_3x3(512)] * 4],
}

# torchvision's init: convs He normal (fan_out), linear layers N(0, 0.01), biases zero.
LINEAR_INIT = initializers.NORMAL_001


def vgg_block(index, convs, batch_norm):
    def apply(x):
        for i, (filters, kernel) in enumerate(convs, start=1):
            prefix = f"block{index}"
            x = B.conv2d(x, filters, kernel, use_bias=True, name=f"{prefix}_conv{i}")
            if batch_norm:
                x = B.norm(x, name=f"{prefix}_bn{i}")
            x = keras.layers.ReLU(name=f"{prefix}_relu{i}")(x)
        return keras.layers.MaxPooling2D(pool_size=2, strides=2, name=f"block{index}_pool")(x)
    return apply


def vgg_classifier(classes, dropout_rate):
    def apply(x):
        x = AdaptiveAveragePooling2D(output_size=7, name="adaptive_pool")(x)
        x = Flatten(name="flatten")(x)
        for i in (1, 2):
            x = B.dense(x, 4096, name=f"fc{i}", kernel_initializer=LINEAR_INIT,
                        bias_initializer="zeros")
            x = keras.layers.ReLU(name=f"fc{i}_relu")(x)
            x = keras.layers.Dropout(rate=dropout_rate, name=f"fc{i}_dropout")(x)
        return B.dense(x, classes, name="logits", kernel_initializer=LINEAR_INIT,
                       bias_initializer="zeros")
    return apply


@A.application(fixed_size_top=True,
               head="adaptive average pool to 7x7, the 4096-4096 classifier with dropout, logits",
               input_note="any size of at least 32x32 works, pooled to 7x7 before the classifier "
                          "as torchvision does (None x None without the classifier)")
def VGG(inputs, config, batch_norm=False, *, name="vgg", dropout_rate=0.5, classes):
    """VGG of a configuration of the paper's table 1 (a key of `CONFIGS`, "A" to "E"),
    with BatchNorm after every convolution where `batch_norm`."""
    B.check_choice(name, "config", config, tuple(CONFIGS))
    x = inputs
    features = []
    for index, convs in enumerate(CONFIGS[config], start=1):
        x = vgg_block(index, convs, batch_norm)(x)
        features.append((2 ** index, x))
    return A.Network(x, features, head=vgg_classifier(classes, dropout_rate))


DOCSTRING = """{summary}

Reference: Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale Image
Recognition" (2014); implementation: {reference}. Registered as `{name}`.

Args:
    dropout_rate: dropout of the two hidden classifier layers.
""" + VGG.args_doc


# Checkpoint names: torchvision's `features` is one nn.Sequential of the convolutions, norms,
# ReLUs and pools, in the order of our layers; its classifier is Linear, ReLU, Dropout, x3.
CLASSIFIER_NAMES = {"fc1": "classifier.0", "fc2": "classifier.3", "logits": "classifier.6"}


def reference_name(path, model):
    if path in CLASSIFIER_NAMES:
        return CLASSIFIER_NAMES[path]
    features = [layer.name for layer in model.layers if layer.name.startswith("block")]
    return f"features.{features.index(path)}" if path in features else None


CHECKPOINTS = {"torchvision": weights.CheckpointMap(reference_name, head=("classifier.",),
                                                    flattened={"fc1": "flatten"})}


register = functools.partial(registry.register_model, family="VGG", paper=PAPER, doc=DOCSTRING)


@register("vgg11", reference=("torchvision", "vgg11"))
def VGG11(**kwargs):
    """VGG-11 (configuration A)."""
    return VGG("A", name="vgg11", **kwargs)


@register("vgg11_bn", reference=("torchvision", "vgg11_bn"))
def VGG11BN(**kwargs):
    """VGG-11 (configuration A) with batch normalization."""
    return VGG("A", batch_norm=True, name="vgg11_bn", **kwargs)


@register("vgg13", reference=("torchvision", "vgg13"))
def VGG13(**kwargs):
    """VGG-13 (configuration B)."""
    return VGG("B", name="vgg13", **kwargs)


@register("vgg13_bn", reference=("torchvision", "vgg13_bn"))
def VGG13BN(**kwargs):
    """VGG-13 (configuration B) with batch normalization."""
    return VGG("B", batch_norm=True, name="vgg13_bn", **kwargs)


@register("vgg16", reference=("torchvision", "vgg16"))
def VGG16(**kwargs):
    """VGG-16 (configuration D)."""
    return VGG("D", name="vgg16", **kwargs)


@register("vgg16_bn", reference=("torchvision", "vgg16_bn"))
def VGG16BN(**kwargs):
    """VGG-16 (configuration D) with batch normalization."""
    return VGG("D", batch_norm=True, name="vgg16_bn", **kwargs)


@register("vgg16_c", reference=("paper", "table 1, configuration C"), paper_params=134_000_000)
def VGG16C(**kwargs):
    """VGG-16 configuration C: the last convolution of blocks 3-5 is 1x1."""
    return VGG("C", name="vgg16_c", **kwargs)


@register("vgg19", reference=("torchvision", "vgg19"))
def VGG19(**kwargs):
    """VGG-19 (configuration E)."""
    return VGG("E", name="vgg19", **kwargs)


@register("vgg19_bn", reference=("torchvision", "vgg19_bn"))
def VGG19BN(**kwargs):
    """VGG-19 (configuration E) with batch normalization."""
    return VGG("E", batch_norm=True, name="vgg19_bn", **kwargs)


__all__ = ["VGG", "VGG11", "VGG11BN", "VGG13", "VGG13BN", "VGG16", "VGG16BN", "VGG16C",
           "VGG19", "VGG19BN"]
