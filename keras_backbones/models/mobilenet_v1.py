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

import functools

from keras_backbones import initializers, registry, weights
from keras_backbones.layers import make_divisible
from keras_backbones.models import _application as A
from keras_backbones.models import _builder as B
from keras_backbones.models import _mobile as M

PAPER = registry.Paper("MobileNets: Efficient Convolutional Neural Networks for Mobile Vision "
                       "Applications", 2017, "1704.04861")

# Table 1 of the paper, grouped by resolution: (pointwise channels, stride) of each
# depthwise-separable block.
STAGES = [[(64, 1)], [(128, 2), (128, 1)], [(256, 2), (256, 1)],
          [(512, 2)] + [(512, 1)] * 5, [(1024, 2), (1024, 1)]]
STEM_WIDTH = 32


@A.application(input_note="any size of at least 32x32 works (128, 160, 192 and 224 in the "
                          "paper)")
def MobileNetV1(inputs, alpha=1.0, *, activation="relu6", name="mobilenet_v1",
                dropout_rate=0.0):
    """MobileNetV1 (Howard et al. 2017) of width multiplier `alpha`."""
    M.check_alpha(name, alpha)
    B.check_choice(name, "activation", activation, ("relu6", "relu"))

    x = M.conv_norm_act(inputs, make_divisible(STEM_WIDTH * alpha), 3, strides=2,
                        act=activation, name="stem")
    table = [[dict(filters=make_divisible(c * alpha), strides=s, activation=activation,
                   project_activation=True, skip=False) for c, s in blocks]
             for blocks in STAGES]
    features = [(2, x)]
    x, stage_features = M.stages(x, table)
    features += stage_features
    # timm's classifier: U(+-1/sqrt(classes)), bias zero (the TF references' dense init).
    return A.Network(x, features, dropout_rate=dropout_rate,
                     logits_initializers=(initializers.UNIFORM_FAN_OUT, "zeros"))


DOCSTRING = """{summary}

Implementation: {reference}. Registered as `{name}`.

Args:
    alpha: width multiplier (0.25, 0.5, 0.75 or 1.0 in the paper).
    activation: "relu6" (timm, keras.applications; default) or "relu" (the paper).
    dropout_rate: dropout before the logits layer (none in timm).
""" + MobileNetV1.args_doc

CHECKPOINTS = {"timm": weights.CheckpointMap(M.timm_names(), head=("classifier.",))}

TIMM = registry.Preprocessing(mean=registry.INCEPTION_MEAN, std=registry.INCEPTION_STD,
                              interpolation="bicubic")

register = functools.partial(registry.register_model, family="MobileNetV1", paper=PAPER,
                             doc=DOCSTRING)
MobileNetV1 = register("mobilenet_v1", reference=("timm", "mobilenetv1_100"),
                       preprocessing=TIMM, alpha=1.0)(MobileNetV1)

__all__ = ["MobileNetV1"]
