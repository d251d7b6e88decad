"""VGG (Simonyan & Zisserman, 2014), as torchvision's `vgg*` and the paper's configuration C.

Five blocks of 3x3 convolutions (C adds a 1x1 convolution to blocks 3-5), each closed by a
2x2 max pool; then torchvision's adaptive 7x7 average pool and the 4096-4096 classifier.
"""

from keras_backbones import registry, weights
from keras_backbones.backend import keras
from keras_backbones.layers import AdaptiveAveragePooling2D, Flatten
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
LINEAR_INIT = {"class_name": "RandomNormal", "config": {"mean": 0.0, "stddev": 0.01}}


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
            x = B.dense(x, 4096, name=f"fc{i}", kernel_initializer=LINEAR_INIT, bias_initializer="zeros")
            x = keras.layers.ReLU(name=f"fc{i}_relu")(x)
            x = keras.layers.Dropout(rate=dropout_rate, name=f"fc{i}_dropout")(x)
        return B.dense(x, classes, name="logits", kernel_initializer=LINEAR_INIT,
                       bias_initializer="zeros")
    return apply


def VGGNet(config, batch_norm=False, *, name="vgg", include_top=True, weights=None,
           input_tensor=None, input_shape=None, pooling=None, classes=1000,
           classifier_activation="softmax", dropout_rate=0.5, features_only=False):
    """Builds a VGG network from a row of `CONFIGS`."""
    B.check_arguments(name, include_top=include_top, classes=classes, pooling=pooling, weights=weights)
    inputs = B.model_input(name, input_shape, input_tensor, default_size=224, min_size=32,
                           static=include_top and not features_only)
    x = inputs
    features = []
    for index, convs in enumerate(CONFIGS[config], start=1):
        x = vgg_block(index, convs, batch_norm)(x)
        features.append((2 ** index, x))
    return B.make_model(inputs, x, name=name, include_top=include_top, pooling=pooling,
                        classes=classes, classifier_activation=classifier_activation,
                        features=features, features_only=features_only, weights=weights,
                        head=vgg_classifier(classes, dropout_rate))


DOCSTRING = """{summary}

Reference: Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale Image
Recognition" (2014); implementation: {reference}. Registered as `{name}`.

Args:
    include_top: whether to include the 4096-4096 classifier. With it, inputs of any size
        (at least 32x32) are pooled to 7x7 as torchvision does.
    weights: None (random initialization) or the path to a weights file.
    input_tensor: optional Keras tensor to use as the model's input.
    input_shape: (height, width, channels); (224, 224, 3) by default.
    pooling: with include_top=False, None (4-D output), "avg" or "max".
    classes: number of classes.
    classifier_activation: activation of the output layer ("softmax", or None for logits).
    dropout_rate: dropout of the two hidden classifier layers.
    features_only: return the feature maps at strides 2, 4, 8, 16 and 32.
"""


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


def _register(name, reference=None, **kwargs):
    reference = reference or ("torchvision", name)
    return registry.register_model(name, family="VGG", paper=PAPER, reference=reference,
                                   doc=DOCSTRING, **kwargs)


@_register("vgg11")
def VGG11(**kwargs):
    """VGG-11 (configuration A)."""
    return VGGNet("A", name="vgg11", **kwargs)


@_register("vgg11_bn")
def VGG11BN(**kwargs):
    """VGG-11 (configuration A) with batch normalization."""
    return VGGNet("A", batch_norm=True, name="vgg11_bn", **kwargs)


@_register("vgg13")
def VGG13(**kwargs):
    """VGG-13 (configuration B)."""
    return VGGNet("B", name="vgg13", **kwargs)


@_register("vgg13_bn")
def VGG13BN(**kwargs):
    """VGG-13 (configuration B) with batch normalization."""
    return VGGNet("B", batch_norm=True, name="vgg13_bn", **kwargs)


@_register("vgg16")
def VGG16(**kwargs):
    """VGG-16 (configuration D)."""
    return VGGNet("D", name="vgg16", **kwargs)


@_register("vgg16_bn")
def VGG16BN(**kwargs):
    """VGG-16 (configuration D) with batch normalization."""
    return VGGNet("D", batch_norm=True, name="vgg16_bn", **kwargs)


@_register("vgg16_c", reference=("paper", "table 1, configuration C"), paper_params=134_000_000)
def VGG16C(**kwargs):
    """VGG-16 configuration C: the last convolution of blocks 3-5 is 1x1."""
    return VGGNet("C", name="vgg16_c", **kwargs)


@_register("vgg19")
def VGG19(**kwargs):
    """VGG-19 (configuration E)."""
    return VGGNet("E", name="vgg19", **kwargs)


@_register("vgg19_bn")
def VGG19BN(**kwargs):
    """VGG-19 (configuration E) with batch normalization."""
    return VGGNet("E", batch_norm=True, name="vgg19_bn", **kwargs)


__all__ = ["VGGNet", "VGG11", "VGG11BN", "VGG13", "VGG13BN", "VGG16", "VGG16BN", "VGG16C",
           "VGG19", "VGG19BN"]
