"""MobileNetV1 (Howard et al. 2017) as timm's `mobilenetv1_100`.

Table 1 of the paper: a 3x3 stride-2 convolution of 32 channels, then 13 depthwise-separable
blocks (3x3 depthwise, norm, activation, 1x1 pointwise, norm, activation; no residual), global
average pooling and the classifier. The width multiplier `alpha` (0.25, 0.5, 0.75, 1.0) scales
every width (rounded to a multiple of 8, timm's rule: exact at these four); the resolution
multiplier is the input size (128 to 224 in the paper).

Differences from the paper, kept to match the reference: the activation is ReLU6 (timm, and
keras.applications' MobileNet) where the paper has ReLU (`activation="relu"` gives the
paper's); table 1 lists the 13th block's depthwise convolution at stride 2, but its input and
output are both 7x7, so every implementation (and this one) runs it at stride 1. The paper
gives no dropout; keras.applications uses 1e-3, timm none (the default here).
"""

from keras_backbones import registry, weights
from keras_backbones.layers import make_divisible
from keras_backbones.models import _builder as B
from keras_backbones.models import _mobile as M

PAPER = registry.Paper("MobileNets: Efficient Convolutional Neural Networks for Mobile Vision "
                       "Applications", 2017, "1704.04861")

# Table 1 of the paper, grouped by resolution: (pointwise channels, stride) of each
# depthwise-separable block.
STAGES = [[(64, 1)], [(128, 2), (128, 1)], [(256, 2), (256, 1)],
          [(512, 2)] + [(512, 1)] * 5, [(1024, 2), (1024, 1)]]
STEM_WIDTH = 32

# timm's classifier: U(+-1/sqrt(classes)), bias zero (the TF references' dense init).
LOGITS_INIT = M.UNIFORM_FAN_OUT


def MobileNetV1Net(alpha=1.0, *, activation="relu6", name="mobilenet_v1", include_top=True,
                   weights=None, input_tensor=None, input_shape=None, pooling=None,
                   classes=1000, classifier_activation="softmax", dropout_rate=0.0,
                   features_only=False):
    """Builds a MobileNetV1 of width multiplier `alpha`."""
    B.check_arguments(name, include_top=include_top, classes=classes, pooling=pooling,
                      weights=weights)
    M.check_alpha(name, alpha)
    B.check_choice(name, "activation", activation, ("relu6", "relu"))
    inputs = B.model_input(name, input_shape, input_tensor, default_size=224, min_size=32)

    x = M.conv_norm_act(inputs, make_divisible(STEM_WIDTH * alpha), 3, strides=2,
                        act=activation, name="stem")
    table = [[dict(filters=make_divisible(c * alpha), strides=s, activation=activation,
                   project_activation=True, skip=False) for c, s in blocks]
             for blocks in STAGES]
    features = [(2, x)]
    x, stage_features = M.stages(x, table)
    features += stage_features
    return B.make_model(inputs, x, name=name, include_top=include_top, pooling=pooling,
                        classes=classes, classifier_activation=classifier_activation,
                        features=features, features_only=features_only, weights=weights,
                        dropout_rate=dropout_rate, logits_initializers=(LOGITS_INIT, "zeros"))


DOCSTRING = """{summary}

Implementation: {reference}. Registered as `{name}`.

Args:
    alpha: width multiplier (0.25, 0.5, 0.75 or 1.0 in the paper).
    activation: "relu6" (timm, keras.applications; default) or "relu" (the paper).
    include_top: whether to include the classifier (global average pool, logits).
    weights: None (random initialization) or the path to a weights file.
    input_tensor: optional Keras tensor to use as the model's input.
    input_shape: (height, width, channels); (224, 224, 3) by default, any size of at least
        32x32 works (128, 160, 192 and 224 in the paper).
    pooling: with include_top=False, None (4-D output), "avg" or "max".
    classes: number of classes.
    classifier_activation: activation of the output layer ("softmax", or None for logits).
    dropout_rate: dropout before the logits layer (none in timm).
    features_only: return the feature maps at strides 2, 4, 8, 16 and 32.
"""

CHECKPOINTS = {"timm": weights.CheckpointMap(M.timm_names(), head=("classifier.",))}

TIMM = registry.Preprocessing(mean=registry.INCEPTION_MEAN, std=registry.INCEPTION_STD,
                              interpolation="bicubic")


@registry.register_model("mobilenet_v1", family="MobileNetV1", paper=PAPER,
                         reference=("timm", "mobilenetv1_100"), preprocessing=TIMM, doc=DOCSTRING,
                         alpha=1.0)
def MobileNetV1(**kwargs):
    """MobileNetV1 (Howard et al. 2017)."""
    return MobileNetV1Net(**{"name": "mobilenet_v1", **kwargs})


__all__ = ["MobileNetV1Net", "MobileNetV1"]
