"""The Inception families after GoogLeNet, written in the layout engine of `_inception.py`.

- Inception-v2 (BN-Inception; Ioffe & Szegedy 2015, figure 5), as Cadene's `bninception` (a
  port of the authors' Caffe model): GoogLeNet with BatchNorm after every convolution, each
  5x5 replaced by two 3x3, average pooling in most modules, and strided modules (3c, 4e) that
  pass their max pool through.
- Inception-v3 (Szegedy et al. 2015), as torchvision's `inception_v3`: a stem of 3x3
  convolutions, 35x35 modules (figure 5), the grid reductions, 17x17 modules with factorized
  1x7 and 7x1 convolutions (figure 6), 8x8 modules with split 1x3 | 3x1 tails (figure 7), and
  an auxiliary classifier on the last 17x17 module (a training-only head, see `_inception`).
- Inception-v4, Inception-ResNet-v1 and Inception-ResNet-v2 (Szegedy et al. 2016): v4 and
  Inception-ResNet-v2 as timm's `inception_v4` and `inception_resnet_v2`, Inception-ResNet-v1
  from the paper (figures 7 and 10-15, table 1). The residual blocks add a scaled 1x1
  projection of their concatenated branches to their input (section 3.3); the scales are an
  argument (0.17, 0.10, 0.20 for the 35x35, 17x17 and 8x8 blocks, the values of the authors'
  TF-slim code that timm ports; the paper gives "between 0.1 and 0.3").

Each family is its layout (a table of modules), its `Style` and its auxiliary classifiers;
the layers are named by the layout (`{module}_branch{b}_{i}_{conv|bn|relu}`), which the
checkpoint maps at the end translate into each reference's names.
"""

from keras_backbones import initializers, registry, weights
from keras_backbones.backend import keras
from keras_backbones.models import _application as A
from keras_backbones.models import _builder as B
from keras_backbones.models import _inception as I
from keras_backbones.models._inception import (AVG, REDUCE, Pool, Residual, Style, conv, split,
                                               valid)

PAPER_V2 = registry.Paper("Batch Normalization: Accelerating Deep Network Training by Reducing "
                          "Internal Covariate Shift", 2015, "1502.03167")
PAPER_V3 = registry.Paper("Rethinking the Inception Architecture for Computer Vision", 2015,
                          "1512.00567")
PAPER_V4 = registry.Paper("Inception-v4, Inception-ResNet and the Impact of Residual Connections "
                          "on Learning", 2016, "1602.07261")

TIMM = Style(avg_count_pad=False)  # timm's: PyTorch's default init, BatchNorm eps 1e-3


# --- Inception-v2 (BN-Inception) ----------------------------------------------------------------

# Figure 5 of the paper: #1x1, #3x3 reduce, #3x3, #double 3x3 reduce, #double 3x3, pool, pool
# projection. The stride-2 modules (3c, 4e) have no 1x1 and pass the max pool through.
BN_INCEPTION_MODULES = {
    "3a": (64, 64, 64, 64, 96, "avg", 32),
    "3b": (64, 64, 96, 64, 96, "avg", 64),
    "3c": (0, 128, 160, 64, 96, "max", 0),
    "4a": (224, 64, 96, 96, 128, "avg", 128),
    "4b": (192, 96, 128, 96, 128, "avg", 128),
    "4c": (160, 128, 160, 128, 160, "avg", 128),
    "4d": (96, 128, 192, 160, 192, "avg", 128),
    "4e": (0, 128, 192, 192, 256, "max", 0),
    "5a": (352, 192, 320, 160, 224, "avg", 128),
    "5b": (352, 192, 320, 192, 224, "max", 128),
}


def bn_inception_module(c1x1, reduce3, c3x3, reduce_double, double, pool, projection):
    stride = 1 if c1x1 else 2
    branches = [[conv(c1x1, 1)]] if c1x1 else []
    branches += [[conv(reduce3, 1), conv(c3x3, 3, stride)],
                 [conv(reduce_double, 1), conv(double, 3), conv(double, 3, stride)],
                 [Pool(pool, 3, stride)] + ([conv(projection, 1)] if projection else [])]
    return branches


BN_INCEPTION = [
    ("conv1", conv(64, 7, 2)), ("pool1", REDUCE),
    ("conv2_reduce", conv(64, 1)), ("conv2", conv(192, 3)), ("pool2", REDUCE),
    *[(f"inception_{m}", bn_inception_module(*cfg)) for m, cfg in BN_INCEPTION_MODULES.items()],
]
# The Caffe model's: convolutions with biases, BatchNorm eps 1e-5, Caffe's pooling arithmetic.
BN_INCEPTION_STYLE = Style(epsilon=1e-5, conv_bias=True, ceil_mode=True)


# --- Inception-v3 -------------------------------------------------------------------------------

def module_a(pool_features):  # figure 5, 35x35: the 5x5 stays in the first module type
    return [[conv(64, 1)], [conv(48, 1), conv(64, 5)], [conv(64, 1), conv(96, 3), conv(96, 3)],
            [AVG, conv(pool_features, 1)]]


def module_c(c7):  # figure 6, 17x17: n x n factorized into 1 x n and n x 1, n = 7
    return [[conv(192, 1)], [conv(c7, 1), conv(c7, (1, 7)), conv(192, (7, 1))],
            [conv(c7, 1), conv(c7, (7, 1)), conv(c7, (1, 7)), conv(c7, (7, 1)), conv(192, (1, 7))],
            [AVG, conv(192, 1)]]


# Figure 7, 8x8: the 3x3s end in parallel 1x3 | 3x1 (the "expanded filter bank").
MODULE_E = [[conv(320, 1)], [conv(384, 1), split(384)], [conv(448, 1), conv(384, 3), split(384)],
            [AVG, conv(192, 1)]]
# Grid reductions (figure 10): strided convolutions beside a max pool.
REDUCTION_35 = [[valid(384, 3, 2)], [conv(64, 1), conv(96, 3), valid(96, 3, 2)], [REDUCE]]
REDUCTION_17 = [[conv(192, 1), valid(320, 3, 2)],
                [conv(192, 1), conv(192, (1, 7)), conv(192, (7, 1)), valid(192, 3, 2)], [REDUCE]]

INCEPTION_V3 = [
    ("conv2d_1a", valid(32, 3, 2)), ("conv2d_2a", valid(32, 3)), ("conv2d_2b", conv(64, 3)),
    ("maxpool1", REDUCE), ("conv2d_3b", conv(80, 1)), ("conv2d_4a", valid(192, 3)),
    ("maxpool2", REDUCE),
    ("mixed_5b", module_a(32)), ("mixed_5c", module_a(64)), ("mixed_5d", module_a(64)),
    ("mixed_6a", REDUCTION_35),
    ("mixed_6b", module_c(128)), ("mixed_6c", module_c(160)), ("mixed_6d", module_c(160)),
    ("mixed_6e", module_c(192)),
    ("mixed_7a", REDUCTION_17), ("mixed_7b", MODULE_E), ("mixed_7c", MODULE_E),
]
# torchvision's init: nn.init.trunc_normal_(std=0.1, a=-2, b=2) (0.01 for the auxiliary 5x5,
# 0.001 for its fc); the bounds are absolute, +-20 standard deviations and more, so it is
# N(0, std).
INCEPTION_V3_STYLE = Style(kernel_init=initializers.normal(0.1))


def inception_v3_aux(x, name, classes):
    """The auxiliary classifier on the last 17x17 module: 5x5/3 average pool (to 5x5), 1x1
    conv (128), 5x5 conv (768, valid: to 1x1), global pool, fc."""
    x = B.avg_pool(x, 5, strides=3, name=f"{name}_pool")
    x = I.conv_unit(x, conv(128, 1), name=f"{name}_conv0", style=INCEPTION_V3_STYLE)
    x = I.conv_unit(x, valid(768, 5), name=f"{name}_conv1", style=INCEPTION_V3_STYLE,
                    kernel_init=initializers.normal(0.01))
    x = keras.layers.GlobalAveragePooling2D(name=f"{name}_avg_pool")(x)
    return B.dense(x, classes, name=f"{name}_logits",
                   kernel_initializer=initializers.normal(0.001))


# The auxiliary classifier needs the 17x17 grid of the default 299x299 input.
INCEPTION_V3_AUX = I.Auxiliary({"aux": ("mixed_6e", inception_v3_aux)}, min_size=299)


# --- Inception-v4 and Inception-ResNet ----------------------------------------------------------

def reduction_a(k, l, m, n):  # figure 7; (k, l, m, n) of table 1
    return [[valid(n, 3, 2)], [conv(k, 1), conv(l, 3), valid(m, 3, 2)], [REDUCE]]


INCEPTION_V4 = [
    # Figure 3, the stem
    ("stem_conv1", valid(32, 3, 2)), ("stem_conv2", valid(32, 3)), ("stem_conv3", conv(64, 3)),
    ("mixed_3a", [[REDUCE], [valid(96, 3, 2)]]),
    ("mixed_4a", [[conv(64, 1), valid(96, 3)],
                  [conv(64, 1), conv(64, (1, 7)), conv(64, (7, 1)), valid(96, 3)]]),
    ("mixed_5a", [[valid(192, 3, 2)], [REDUCE]]),
    # Figure 4, Inception-A (35x35)
    *[(f"inception_a{i}", [[conv(96, 1)], [conv(64, 1), conv(96, 3)],
                           [conv(64, 1), conv(96, 3), conv(96, 3)], [AVG, conv(96, 1)]])
      for i in range(1, 5)],
    ("reduction_a", reduction_a(192, 224, 256, 384)),
    # Figure 5, Inception-B (17x17)
    *[(f"inception_b{i}", [[conv(384, 1)], [conv(192, 1), conv(224, (1, 7)), conv(256, (7, 1))],
                           [conv(192, 1), conv(192, (7, 1)), conv(224, (1, 7)), conv(224, (7, 1)),
                            conv(256, (1, 7))], [AVG, conv(128, 1)]])
      for i in range(1, 8)],
    # Figure 8, Reduction-B
    ("reduction_b", [[conv(192, 1), valid(192, 3, 2)],
                     [conv(256, 1), conv(256, (1, 7)), conv(320, (7, 1)), valid(320, 3, 2)],
                     [REDUCE]]),
    # Figure 6, Inception-C (8x8)
    *[(f"inception_c{i}", [[conv(256, 1)], [conv(384, 1), split(256)],
                           [conv(384, 1), conv(448, (3, 1)), conv(512, (1, 3)), split(256)],
                           [AVG, conv(256, 1)]])
      for i in range(1, 4)],
]

RESIDUAL_SCALES = (0.17, 0.10, 0.20)  # 35x35, 17x17 and 8x8 blocks


def inception_resnet_v1(scales):
    """Figures 14 (stem), 10, 7, 11, 12, 13; table 1 (k, l, m, n) = (192, 192, 256, 384)."""
    a, b, c = scales
    return [
        ("conv2d_1a", valid(32, 3, 2)), ("conv2d_2a", valid(32, 3)), ("conv2d_2b", conv(64, 3)),
        ("maxpool_3a", REDUCE), ("conv2d_3b", conv(80, 1)), ("conv2d_4a", valid(192, 3)),
        ("conv2d_4b", valid(256, 3, 2)),
        *[(f"block35_{i}", Residual([[conv(32, 1)], [conv(32, 1), conv(32, 3)],
                                     [conv(32, 1), conv(32, 3), conv(32, 3)]], a))
          for i in range(1, 6)],
        ("mixed_6a", reduction_a(192, 192, 256, 384)),
        *[(f"block17_{i}", Residual([[conv(128, 1)],
                                     [conv(128, 1), conv(128, (1, 7)), conv(128, (7, 1))]], b))
          for i in range(1, 11)],
        ("mixed_7a", [[conv(256, 1), valid(384, 3, 2)], [conv(256, 1), valid(256, 3, 2)],
                      [conv(256, 1), conv(256, 3), valid(256, 3, 2)], [REDUCE]]),
        *[(f"block8_{i}", Residual([[conv(192, 1)],
                                    [conv(192, 1), conv(192, (1, 3)), conv(192, (3, 1))]], c))
          for i in range(1, 6)],
    ]


def inception_resnet_v2(scales):
    """Figures 16, 7, 17, 18, 19; table 1 (k, l, m, n) = (256, 256, 384, 384). As the authors'
    TF-slim code (and timm): its stem is Inception-v3's with a 35x35 module to 320 channels
    (not figure 3's), its last 8x8 block is unscaled and has no ReLU, and a 1x1 convolution to
    1536 channels follows."""
    a, b, c = scales
    block8 = [[conv(192, 1)], [conv(192, 1), conv(224, (1, 3)), conv(256, (3, 1))]]
    return [
        ("conv2d_1a", valid(32, 3, 2)), ("conv2d_2a", valid(32, 3)), ("conv2d_2b", conv(64, 3)),
        ("maxpool_3a", REDUCE), ("conv2d_3b", conv(80, 1)), ("conv2d_4a", valid(192, 3)),
        ("maxpool_5a", REDUCE),
        ("mixed_5b", [[conv(96, 1)], [conv(48, 1), conv(64, 5)],
                      [conv(64, 1), conv(96, 3), conv(96, 3)], [AVG, conv(64, 1)]]),
        *[(f"block35_{i}", Residual([[conv(32, 1)], [conv(32, 1), conv(32, 3)],
                                     [conv(32, 1), conv(48, 3), conv(64, 3)]], a))
          for i in range(1, 11)],
        ("mixed_6a", reduction_a(256, 256, 384, 384)),
        *[(f"block17_{i}", Residual([[conv(192, 1)],
                                     [conv(128, 1), conv(160, (1, 7)), conv(192, (7, 1))]], b))
          for i in range(1, 21)],
        ("mixed_7a", [[conv(256, 1), valid(384, 3, 2)], [conv(256, 1), valid(288, 3, 2)],
                      [conv(256, 1), conv(288, 3), valid(320, 3, 2)], [REDUCE]]),
        *[(f"block8_{i}", Residual(block8, c)) for i in range(1, 10)],
        ("block8_10", Residual(block8, 1.0, relu=False)),
        ("conv2d_7b", conv(1536, 1)),
    ]


def check_scales(name, scales):
    if not (isinstance(scales, (tuple, list)) and len(scales) == 3
            and all(isinstance(s, (int, float)) and s > 0 for s in scales)):
        raise ValueError(f"{name}: `residual_scales` must be three positive numbers (the 35x35, "
                         f"17x17 and 8x8 blocks'); got {scales!r}.")
    return tuple(float(s) for s in scales)


# --- the public constructors --------------------------------------------------------------------

BN_INCEPTION_MIN_SIZE = 31  # the smallest input side (the last grid is then 1x1)
NETWORK_MIN_SIZE = 75  # Inception-v3's, v4's and the Inception-ResNets'


def check_bn_inception_side(name, inputs):
    """BN-Inception's strided modules (3c, 4e) concatenate a padded stride-2 3x3 convolution
    with a ceil-mode max pool, which agree on even grids only: the input sides that work are
    32k - 1 ... 32k + 6 (224, 160, 192, ...); the reference fails on the others too."""
    for side in inputs.shape[1:3]:
        if side is not None and (side + 1) % 32 > 7:
            raise ValueError(
                f"{name}: input sides must be 32k - 1 to 32k + 6 pixels (e.g. 224, 192, 160): "
                f"the strided modules' branches (a padded stride-2 convolution beside a "
                f"ceil-mode max pool) give grids of different sizes otherwise; got "
                f"input_shape={tuple(inputs.shape[1:])}.")


HEAD = "global average pool, dropout, logits"


@A.application(min_size=BN_INCEPTION_MIN_SIZE, head=HEAD,
               input_note="input sides of 32k - 1 to 32k + 6 pixels (224, 192, 160, ...) work, "
                          f"from {BN_INCEPTION_MIN_SIZE}")
def InceptionV2(inputs, *, name="inception_v2", dropout_rate=0.0):
    """Inception-v2 / BN-Inception (Ioffe & Szegedy 2015): GoogLeNet with BatchNorm after
    every convolution and each 5x5 replaced by two 3x3 (figure 5), without dropout."""
    check_bn_inception_side(name, inputs)
    return I.network(inputs, BN_INCEPTION, style=BN_INCEPTION_STYLE, name=name,
                     dropout_rate=dropout_rate)


@A.application(min_size=NETWORK_MIN_SIZE, head=HEAD,
               input_note=f"at least {INCEPTION_V3_AUX.min_size}x{INCEPTION_V3_AUX.min_size} "
                          "with the auxiliary classifier, any size of at least "
                          f"{NETWORK_MIN_SIZE}x{NETWORK_MIN_SIZE} without it (also None x None)")
def InceptionV3(inputs, *, name="inception_v3", aux_logits=True, aux_outputs=False,
                dropout_rate=0.5, classes, include_top, features_only):
    """Inception-v3 (Szegedy et al. 2015), with its auxiliary classifier (aux_logits). The
    auxiliary classifier needs a 17x17 grid, the default 299x299 input; without it any input
    of at least 75x75 works."""
    return I.network(inputs, INCEPTION_V3, style=INCEPTION_V3_STYLE, name=name,
                     dropout_rate=dropout_rate, classes=classes, include_top=include_top,
                     features_only=features_only, auxiliary=INCEPTION_V3_AUX,
                     aux_logits=aux_logits, aux_outputs=aux_outputs)


@A.application(min_size=NETWORK_MIN_SIZE, head=HEAD)
def InceptionV4(inputs, *, name="inception_v4", dropout_rate=0.0):
    """Inception-v4 (Szegedy et al. 2016, figure 9). The paper's dropout (keep 0.8) is
    `dropout_rate=0.2`; timm's default is 0."""
    return I.network(inputs, INCEPTION_V4, style=TIMM, name=name, dropout_rate=dropout_rate)


@A.application(min_size=NETWORK_MIN_SIZE, head=HEAD)
def InceptionResNetV2(inputs, *, name="inception_resnet_v2", residual_scales=RESIDUAL_SCALES,
                      dropout_rate=0.0):
    """Inception-ResNet-v2 (Szegedy et al. 2016), as the authors' TF-slim code that timm
    ports: residual branches scaled by 0.17, 0.10 and 0.20 (the last 8x8 block unscaled and
    without ReLU), a 1x1 convolution to 1536 channels before the pool."""
    layout = inception_resnet_v2(check_scales(name, residual_scales))
    return I.network(inputs, layout, style=TIMM, name=name, dropout_rate=dropout_rate)


@A.application(min_size=NETWORK_MIN_SIZE, head=HEAD)
def InceptionResNetV1(inputs, *, name="inception_resnet_v1", residual_scales=RESIDUAL_SCALES,
                      dropout_rate=0.2):
    """Inception-ResNet-v1 (Szegedy et al. 2016, figure 15): the cost of Inception-v3 with
    residual connections; dropout keeps 0.8. BatchNorm (eps 1e-3) and initialization as the
    Inception-ResNet-v2 here."""
    layout = inception_resnet_v1(check_scales(name, residual_scales))
    return I.network(inputs, layout, style=TIMM, name=name, dropout_rate=dropout_rate)


SCALE_ARGS = """\
    residual_scales: the factors of the residual branches of the 35x35, 17x17 and 8x8 blocks
        (section 3.3 of the paper).
"""

INCEPTION_MEAN_STD = {"mean": registry.INCEPTION_MEAN, "std": registry.INCEPTION_STD}
# The references' preprocessing. Cadene's BN-Inception takes BGR pixels in [0, 255] minus the
# Caffe means: in RGB and [0, 1] units, these means and a std of 1/255.
CADENE = registry.Preprocessing(mean=(128 / 255, 117 / 255, 104 / 255), std=(1 / 255,) * 3)
# torchvision: resize to 342, crop 299; the weights ported from TensorFlow see [-1, 1] inputs
# (transform_input=True maps ImageNet-normalized inputs there), which these mean/std give.
TORCHVISION_V3 = registry.Preprocessing(input_size=(299, 299, 3), crop_pct=299 / 342,
                                        **INCEPTION_MEAN_STD)
TIMM_V4 = registry.Preprocessing(input_size=(299, 299, 3), interpolation="bicubic",
                                 **INCEPTION_MEAN_STD)
TIMM_IRV2 = registry.Preprocessing(input_size=(299, 299, 3), interpolation="bicubic",
                                   crop_pct=0.8975, **INCEPTION_MEAN_STD)
PAPER_299 = registry.Preprocessing(input_size=(299, 299, 3), **INCEPTION_MEAN_STD)

# Inception-ResNet-v1 has no code reference and the paper gives no parameter count: the
# registered count is this implementation's (figures 7, 10-15 and table 1).
INCEPTION_RESNET_V1_PARAMS = 22_756_328

InceptionV2 = registry.register_model(
    "inception_v2", family="Inception-v2 (BN-Inception)", paper=PAPER_V2,
    reference=("Cadene/pretrained-models.pytorch", "bninception"), preprocessing=CADENE,
    doc=I.DOCSTRING + InceptionV2.args_doc)(InceptionV2)
InceptionV3 = registry.register_model(
    "inception_v3", family="Inception-v3", paper=PAPER_V3,
    reference=("torchvision", "inception_v3"), preprocessing=TORCHVISION_V3,
    doc=I.DOCSTRING + I.AUX_ARGS + InceptionV3.args_doc)(InceptionV3)
InceptionV4 = registry.register_model(
    "inception_v4", family="Inception-v4", paper=PAPER_V4, reference=("timm", "inception_v4"),
    preprocessing=TIMM_V4, doc=I.DOCSTRING + InceptionV4.args_doc)(InceptionV4)
InceptionResNetV2 = registry.register_model(
    "inception_resnet_v2", family="Inception-ResNet-v2", paper=PAPER_V4,
    reference=("timm", "inception_resnet_v2"), preprocessing=TIMM_IRV2,
    doc=I.DOCSTRING + SCALE_ARGS + InceptionResNetV2.args_doc)(InceptionResNetV2)
InceptionResNetV1 = registry.register_model(
    "inception_resnet_v1", family="Inception-ResNet-v1", paper=PAPER_V4,
    reference=("paper", "figures 7, 10-15 and table 1"), preprocessing=PAPER_299,
    paper_params=INCEPTION_RESNET_V1_PARAMS,
    doc=I.DOCSTRING + SCALE_ARGS + InceptionResNetV1.args_doc)(InceptionResNetV1)


# --- checkpoints --------------------------------------------------------------------------------

def cadene_name(path, model=None):
    """Cadene's flat names: inception_3a_{1x1, 3x3_reduce, 3x3, double_3x3_reduce,
    double_3x3_1, double_3x3_2, pool_proj}, each BatchNorm the conv's name + "_bn"."""
    if path == "logits":
        return "last_linear"
    unit_name, part = I.unit_and_part(path)
    site = BN_INCEPTION_SITES.get(unit_name)
    if site is None or part is None:
        return None
    if site.branch is None:
        module = CADENE_STEM[site.block]
    else:
        base = CADENE_BRANCHES[site.branches][site.branch]
        if base == "pool":
            suffix = "pool_proj"
        elif site.convs == 1 or (site.convs == 2 and site.number == 2):
            suffix = base
        else:
            suffix = f"{base}_reduce" if site.number == 1 else f"{base}_{site.number - 1}"
        module = f"{site.block}_{suffix}"
    return module if part == "conv" else f"{module}_bn"


CADENE_STEM = {"conv1": "conv1_7x7_s2", "conv2_reduce": "conv2_3x3_reduce", "conv2": "conv2_3x3"}
CADENE_BRANCHES = {4: ("1x1", "3x3", "double_3x3", "pool"), 3: ("3x3", "double_3x3", "pool")}
BN_INCEPTION_SITES = I.conv_sites(BN_INCEPTION)


def torchvision_v3_name(path, model=None):
    """torchvision's (and timm's) Inception3: Conv2d_1a_3x3, Mixed_5b.branch5x5_1, ..."""
    if path in ("logits", "aux_logits"):
        return {"logits": "fc", "aux_logits": "AuxLogits.fc"}[path]
    unit_name, part = I.unit_and_part(path)
    if part is None:
        return None
    if unit_name in TV_V3_NAMES:
        return f"{TV_V3_NAMES[unit_name]}.{part}"
    site = INCEPTION_V3_SITES.get(unit_name)
    if site is None:
        return None
    base = TV_V3_BRANCHES[TV_V3_MODULES[site.block]][site.branch]
    branch = base if site.convs == 1 else f"{base}_{site.number}{site.split}"
    return f"Mixed_{site.block.removeprefix('mixed_')}.{branch}.{part}"


TV_V3_NAMES = {"conv2d_1a": "Conv2d_1a_3x3", "conv2d_2a": "Conv2d_2a_3x3",
               "conv2d_2b": "Conv2d_2b_3x3", "conv2d_3b": "Conv2d_3b_1x1",
               "conv2d_4a": "Conv2d_4a_3x3", "aux_conv0": "AuxLogits.conv0",
               "aux_conv1": "AuxLogits.conv1"}
TV_V3_BRANCHES = {  # torchvision's branch names of each module type
    "A": ("branch1x1", "branch5x5", "branch3x3dbl", "branch_pool"),
    "B": ("branch3x3", "branch3x3dbl", None),
    "C": ("branch1x1", "branch7x7", "branch7x7dbl", "branch_pool"),
    "D": ("branch3x3", "branch7x7x3", None),
    "E": ("branch1x1", "branch3x3", "branch3x3dbl", "branch_pool"),
}
TV_V3_MODULES = {"mixed_5b": "A", "mixed_5c": "A", "mixed_5d": "A", "mixed_6a": "B",
                 "mixed_6b": "C", "mixed_6c": "C", "mixed_6d": "C", "mixed_6e": "C",
                 "mixed_7a": "D", "mixed_7b": "E", "mixed_7c": "E"}
INCEPTION_V3_SITES = I.conv_sites(INCEPTION_V3)


def timm_v4_name(path, model=None):
    """timm's InceptionV4: one nn.Sequential `features` of the layout's entries."""
    if path == "logits":
        return "last_linear"
    unit_name, part = I.unit_and_part(path)
    site = INCEPTION_V4_SITES.get(unit_name)
    if site is None or part is None:
        return None
    module = f"features.{INCEPTION_V4_INDEX[site.block]}"
    if site.branch is not None:  # Mixed3a and Mixed5a name their one convolution `conv`
        single = site.block in ("mixed_3a", "mixed_5a")
        module += ".conv" if single else f".{I.sequential_name(site)}"
    return f"{module}.{part}"


INCEPTION_V4_SITES = I.conv_sites(INCEPTION_V4)
INCEPTION_V4_INDEX = {entry: i for i, (entry, _) in enumerate(INCEPTION_V4)}


def timm_irv2_name(path, model=None):
    """timm's InceptionResnetV2: the blocks in nn.Sequentials `repeat` (35x35), `repeat_1`
    (17x17), `repeat_2` (8x8), then `block8`; each block's projection is `conv2d`."""
    if path == "logits":
        return "classif"
    unit_name, part = I.unit_and_part(path, parts=("conv", "bn", "project"))
    site = INCEPTION_RESNET_V2_SITES.get(unit_name)
    block = site.block if site else unit_name
    module = TIMM_IRV2_REPEATS.get(block, block)
    if part == "project":
        return f"{module}.conv2d"
    if site is None or part is None:
        return None
    if site.branch is not None:
        module += f".{I.sequential_name(site)}"
    return f"{module}.{part}"


_IRV2 = inception_resnet_v2(RESIDUAL_SCALES)
INCEPTION_RESNET_V2_SITES = I.conv_sites(_IRV2)
TIMM_IRV2_REPEATS = {
    **{f"block35_{i + 1}": f"repeat.{i}" for i in range(10)},
    **{f"block17_{i + 1}": f"repeat_1.{i}" for i in range(20)},
    **{f"block8_{i + 1}": f"repeat_2.{i}" for i in range(9)},
    "block8_10": "block8",
}


def timm_name(path, model):
    """timm's names of this module's three timm families, told apart by the variant the model
    was built as (a model loaded from a file: by its name)."""
    variant = getattr(model, "variant", None) or model.name.removesuffix("_features")
    return {"inception_v3": torchvision_v3_name, "inception_v4": timm_v4_name,
            "inception_resnet_v2": timm_irv2_name}[variant](path, model)


CHECKPOINTS = {
    "torchvision": weights.CheckpointMap(torchvision_v3_name, head=("fc.", "AuxLogits."),
                                         norm_epsilon=1e-3),
    "timm": weights.CheckpointMap(timm_name, head=("fc.", "AuxLogits.", "last_linear.", "classif."),
                                  norm_epsilon=1e-3),
    "Cadene/pretrained-models.pytorch": weights.CheckpointMap(cadene_name, head=("last_linear.",),
                                                              norm_epsilon=1e-5),
}

__all__ = ["InceptionV2", "InceptionV3", "InceptionV4", "InceptionResNetV1", "InceptionResNetV2"]
