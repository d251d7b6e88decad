"""GoogLeNet / Inception-v1 (Szegedy et al. 2014), as torchvision's `googlenet`.

Nine Inception modules (table 1 of the paper: 1x1 | 1x1-3x3 | 1x1-5x5 | pool-1x1 branches,
concatenated) after a stem of 7x7, 1x1 and 3x3 convolutions, with max pools between stages
and global average pooling, dropout 0.4 (torchvision: 0.2) and one linear layer at the top.
torchvision's version, which this one is, differs from the paper where the ported TensorFlow
checkpoint does: BatchNorm (eps 1e-3) after every convolution, no local response
normalization (`lrn=True` puts the paper's two back, after the first pool and the 3x3
convolution), and a 3x3 convolution in the "5x5" branch (pytorch/vision#906).

The two auxiliary classifiers on modules 4a and 4d (`aux_logits`, on by default as
torchvision's: 13.0M parameters with them, 6.6M without) are training-only heads, weighted
0.3 in the loss: the model's one output is the main classifier's, and `aux_outputs=True`
builds the training model, whose outputs are [predictions, aux1, aux2] (see
`keras_backbones.models._inception`, the layout engine GoogLeNet is written in).
"""

from keras_backbones import initializers, registry, weights
from keras_backbones.backend import keras
from keras_backbones.layers import AdaptiveAveragePooling2D, Flatten, LocalResponseNormalization
from keras_backbones.models import _application as A
from keras_backbones.models import _builder as B
from keras_backbones.models import _inception as I

PAPER = registry.Paper("Going Deeper with Convolutions", 2014, "1409.4842")

# Table 1: #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj.
MODULES = {
    "3a": (64, 96, 128, 16, 32, 32),
    "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64),
    "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128),
    "5b": (384, 192, 384, 48, 128, 128),
}
FIVE_BY_FIVE = 3  # torchvision's kernel in the "5x5" branch


def inception_module(c1x1, reduce3, c3x3, reduce5, c5x5, projection):
    return [[I.conv(c1x1, 1)], [I.conv(reduce3, 1), I.conv(c3x3, 3)],
            [I.conv(reduce5, 1), I.conv(c5x5, FIVE_BY_FIVE)], [I.MAX, I.conv(projection, 1)]]


def local_response_norm(x, name):
    """The paper's (Caffe's) LRN: 5 channels, alpha 1e-4 (divided by the window in Caffe's
    formula), beta 0.75, k 1."""
    return LocalResponseNormalization(depth_radius=2, alpha=1e-4 / 5, beta=0.75, bias=1.0,
                                      name=name)(x)


def layout(lrn=False):
    norm = [local_response_norm] if lrn else []
    return [
        ("conv1", I.conv(64, 7, 2)), ("maxpool1", I.REDUCE),
        *[("norm1", f) for f in norm],
        ("conv2", I.conv(64, 1)), ("conv3", I.conv(192, 3)),
        *[("norm2", f) for f in norm],
        ("maxpool2", I.REDUCE),
        ("inception_3a", inception_module(*MODULES["3a"])),
        ("inception_3b", inception_module(*MODULES["3b"])),
        ("maxpool3", I.REDUCE),
        *[(f"inception_{m}", inception_module(*MODULES[m]))
          for m in ("4a", "4b", "4c", "4d", "4e")],
        ("maxpool4", I.Pool("max", 2, 2)),
        ("inception_5a", inception_module(*MODULES["5a"])),
        ("inception_5b", inception_module(*MODULES["5b"])),
    ]


MIN_SIZE = 15  # the smallest input side (torchvision's too); the last grid is then 1x1
# torchvision's: nn.init.trunc_normal_(std=0.01, a=-2, b=2) convolutions and linear layers (the
# bounds are absolute, +-200 standard deviations: N(0, 0.01)), BatchNorm eps 1e-3, ceil-mode
# max pools (Caffe's arithmetic, as the ported weights expect).
STYLE = I.Style(kernel_init=initializers.NORMAL_001, ceil_mode=True)
AUX_DROPOUT = 0.7


def aux_classifier(x, name, classes):
    """Adaptive average pool to 4x4 (the paper: 5x5/3), 1x1 conv (128), fc 1024, ReLU,
    dropout 0.7, fc."""
    x = AdaptiveAveragePooling2D(output_size=4, name=f"{name}_pool")(x)
    x = I.conv_unit(x, I.conv(128, 1), name=f"{name}_conv", style=STYLE)
    x = Flatten(name=f"{name}_flatten")(x)
    x = B.dense(x, 1024, activation="relu", name=f"{name}_fc1",
                kernel_initializer=STYLE.kernel_init)
    x = keras.layers.Dropout(rate=AUX_DROPOUT, name=f"{name}_dropout")(x)
    return B.dense(x, classes, name=f"{name}_logits", kernel_initializer=STYLE.kernel_init)


# The auxiliary classifiers pool adaptively to a fixed grid: they need a known input size.
AUXILIARY = I.Auxiliary({"aux1": ("inception_4a", aux_classifier),
                         "aux2": ("inception_4d", aux_classifier)}, static=True)


@A.application(min_size=MIN_SIZE, head="global average pool, dropout, logits",
               input_note=f"any known size of at least {MIN_SIZE}x{MIN_SIZE} works (the "
                          "auxiliary classifiers need one); with aux_logits=False also None x "
                          "None")
def GoogLeNet(inputs, *, name="googlenet", aux_logits=True, aux_outputs=False, lrn=False,
              dropout_rate=0.2, classes, include_top, features_only):
    """GoogLeNet / Inception-v1 (Szegedy et al. 2014), torchvision's BatchNorm version. The
    auxiliary classifiers pool adaptively to 4x4: they take any known input size (at least
    15x15); aux_logits=False also takes None x None."""
    return I.network(inputs, layout(lrn), style=STYLE, name=name, dropout_rate=dropout_rate,
                     classes=classes, include_top=include_top, features_only=features_only,
                     auxiliary=AUXILIARY, aux_logits=aux_logits, aux_outputs=aux_outputs)


DOCSTRING = I.DOCSTRING + I.AUX_ARGS + """\
    lrn: the paper's local response normalization after the first pool and the 3x3 conv.
""" + GoogLeNet.args_doc

GoogLeNet = registry.register_model(
    "googlenet", family="GoogLeNet (Inception-v1)", paper=PAPER,
    reference=("torchvision", "googlenet"),
    preprocessing=registry.Preprocessing(mean=registry.INCEPTION_MEAN, std=registry.INCEPTION_STD),
    doc=DOCSTRING)(GoogLeNet)


# --- checkpoints --------------------------------------------------------------------------------

def reference_name(path, model=None):
    """torchvision's names: conv1.conv, inception3a.branch2.0.bn, aux1.conv.conv, aux1.fc1, fc."""
    if path in HEAD_NAMES:
        return HEAD_NAMES[path]
    unit_name, part = I.unit_and_part(path)
    if part is None:
        return None
    if unit_name in ("conv1", "conv2", "conv3", "aux1_conv", "aux2_conv"):
        return f"{unit_name.replace('_', '.')}.{part}"
    site = SITES.get(unit_name)
    if site is None:
        return None
    module = site.block.replace("_", "")  # inception_3a -> inception3a
    return f"{module}.{I.sequential_name(site, first_branch=1)}.{part}"


HEAD_NAMES = {"logits": "fc", "aux1_fc1": "aux1.fc1", "aux1_logits": "aux1.fc2",
              "aux2_fc1": "aux2.fc1", "aux2_logits": "aux2.fc2"}
SITES = I.conv_sites(layout())

CHECKPOINTS = {"torchvision": weights.CheckpointMap(
    reference_name, head=("fc.", "aux1.", "aux2."), norm_epsilon=1e-3,
    flattened={"aux1_fc1": "aux1_flatten", "aux2_fc1": "aux2_flatten"})}

__all__ = ["GoogLeNet"]
