"""RegNet (Radosavovic et al. 2020): the RegNetX and RegNetY models of the paper as timm's
`regnet.py` builds them (`regnetx_002` ... `regnety_320`, the pycls model zoo).

A network is four numbers and a block, not a table of widths. Section 3.3 of the paper: block j
of d (0 <= j < d) gets the continuous width u_j = w0 + wa * j (eq. 2); writing
u_j = w0 * wm^s_j (eq. 3) and rounding s_j gives the quantized widths w_j = w0 * wm^round(s_j)
(eq. 4), here rounded to multiples of 8; blocks of equal width form a stage. Every block is an
X block: a ResNeXt bottleneck (1x1, 3x3 grouped convolution of group width g, 1x1) with
bottleneck ratio b (1 in every published model), the first block of each stage strided, a
projection shortcut where the shape changes. RegNetY adds squeeze-and-excitation after the 3x3,
reduced to a quarter of the block's INPUT width (ReLU, sigmoid gate). A 3x3 stride-2 stem of 32
channels, the four stages, global average pooling and the classifier.

Group widths are made compatible with the widths as timm and pycls do (`stages`): g is capped
at the bottleneck width, which is then rounded to a multiple of g (round half to even: 96 at
g = 64 becomes 128).

Departures from the paper, from timm: the last BatchNorm of each residual branch starts at
gamma 0 (`zero_init_last`; pycls starts it at 1), and each convolution is drawn from
N(0, 2 / fan_out) with fan_out = k * k * out / groups (pycls and Keras leave out the groups).
"""

import dataclasses
import functools

import numpy as np

from keras_backbones import initializers, registry, weights
from keras_backbones.backend import keras
from keras_backbones.layers import SqueezeExcite, StochasticDepth
from keras_backbones.models import _application as A
from keras_backbones.models import _builder as B

PAPER = registry.Paper("Designing Network Design Spaces", 2020, "2003.13678")

# The paper's models (pycls model zoo, timm model_cfgs): flops, then the design-space
# parameters: depth d, initial width w0, slope wa, width multiplier wm, group width g.
REGNETX = {
    "002": ("200MF", 13, 24, 36.44, 2.49, 8),
    "004": ("400MF", 22, 24, 24.48, 2.54, 16),
    "006": ("600MF", 16, 48, 36.97, 2.24, 24),
    "008": ("800MF", 16, 56, 35.73, 2.28, 16),
    "016": ("1.6GF", 18, 80, 34.01, 2.25, 24),
    "032": ("3.2GF", 25, 88, 26.31, 2.25, 48),
    "040": ("4.0GF", 23, 96, 38.65, 2.43, 40),
    "064": ("6.4GF", 17, 184, 60.83, 2.07, 56),
    "080": ("8.0GF", 23, 80, 49.56, 2.88, 120),
    "120": ("12GF", 19, 168, 73.36, 2.37, 112),
    "160": ("16GF", 22, 216, 55.59, 2.10, 128),
    "320": ("32GF", 23, 320, 69.86, 2.00, 168),
}
REGNETY = {  # + squeeze-and-excitation, ratio 0.25
    "002": ("200MF", 13, 24, 36.44, 2.49, 8),
    "004": ("400MF", 16, 48, 27.89, 2.09, 8),
    "006": ("600MF", 15, 48, 32.54, 2.32, 16),
    "008": ("800MF", 14, 56, 38.84, 2.40, 16),
    "016": ("1.6GF", 27, 48, 20.71, 2.65, 24),
    "032": ("3.2GF", 21, 80, 42.63, 2.66, 24),
    "040": ("4.0GF", 22, 96, 31.41, 2.24, 64),
    "064": ("6.4GF", 25, 112, 33.22, 2.27, 72),
    "080": ("8.0GF", 17, 192, 76.82, 2.19, 56),
    "120": ("12GF", 19, 168, 73.36, 2.37, 112),
    "160": ("16GF", 18, 200, 106.23, 2.48, 112),
    "320": ("32GF", 20, 232, 115.89, 2.53, 232),
}
SE_RATIO = 0.25  # RegNetY
STEM_WIDTH = 32
QUANTUM = 8  # widths are multiples of 8
NUM_STAGES = 4  # timm's RegNet (pycls allows any number; the published models have 4)

# timm's initialization: the classifier N(0, 0.01) with a zero bias; convolutions N(0, 2 /
# fan_out) with fan_out = k * k * out / groups (Keras's fan_out omits the groups: scale by them).
LOGITS_INIT = (initializers.NORMAL_001, "zeros")


def conv_init(groups):
    return {"class_name": "VarianceScaling",
            "config": {"scale": 2.0 * groups, "mode": "fan_out",
                       "distribution": "untruncated_normal"}}


@dataclasses.dataclass(frozen=True)
class Stage:
    width: int  # output channels of every block
    depth: int  # blocks
    group_width: int  # channels per group of the 3x3


def stages(depth, w0, wa, wm, group_width, bottle_ratio=1.0, *, name="regnet"):
    """The stages of a RegNet from its design-space parameters (the paper's section 3.3;
    timm's generate_regnet and adjust_widths_groups_comp)."""
    _check_design(name, depth, w0, wa, wm, group_width, bottle_ratio)
    u = w0 + wa * np.arange(depth)  # eq. 2: linear widths
    s = np.round(np.log(u / w0) / np.log(wm))  # eq. 3, rounded
    w = np.round(w0 * np.power(wm, s) / QUANTUM).astype(int) * QUANTUM  # eq. 4, quantized
    widths, depths = np.unique(w, return_counts=True)
    if len(widths) != NUM_STAGES:
        raise ValueError(f"{name}: the design (depth={depth}, w0={w0}, wa={wa}, wm={wm}) gives "
                         f"{len(widths)} stages of widths {widths.tolist()}; RegNet has "
                         f"{NUM_STAGES} (change wa or wm).")
    result = []
    for width, blocks in zip(widths.tolist(), depths.tolist()):
        bottleneck = int(width * bottle_ratio)
        g = min(group_width, bottleneck)
        bottleneck = int(round(bottleneck / g) * g)  # a whole number of groups
        result.append(Stage(int(bottleneck / bottle_ratio), blocks, g))
    return result


def _check_design(name, depth, w0, wa, wm, group_width, bottle_ratio):
    def number(value):
        return isinstance(value, (int, float)) and not isinstance(value, bool)

    checks = [
        (isinstance(depth, int) and depth >= NUM_STAGES, "depth", depth,
         f"an integer of at least {NUM_STAGES}"),
        (isinstance(w0, int) and w0 > 0 and w0 % QUANTUM == 0, "w0", w0,
         f"a positive multiple of {QUANTUM}"),
        (number(wa) and wa > 0, "wa", wa, "a positive number"),
        (number(wm) and wm > 1, "wm", wm, "a number above 1"),
        (isinstance(group_width, int) and group_width >= 1, "group_width", group_width,
         "a positive integer"),
        (number(bottle_ratio) and bottle_ratio > 0, "bottle_ratio", bottle_ratio,
         "a positive number"),
    ]
    for ok, argument, value, allowed in checks:
        if not ok:
            raise ValueError(f"{name}: `{argument}` must be {allowed}; got {value!r}.")


def bottleneck_block(width, stride, *, name, stage, bottle_ratio, se_ratio, zero_init_last,
                     drop_path=0.0):
    """X block: 1x1, 3x3 grouped (strided), [SE], 1x1 without activation, + shortcut, ReLU.
    Named {name}_conv1/bn1/relu1, _conv2 .., _se, _conv3/bn3, _downsample_conv/bn, _add, _out."""
    bottleneck = int(round(width * bottle_ratio))
    groups = bottleneck // stage.group_width

    def conv(x, filters, kernel, index, strides=1, groups=1, act="relu", gamma="ones"):
        return B.conv_norm_act(x, filters, kernel, strides=strides, groups=groups, act=act,
                               name=name, conv_name=f"conv{index}", norm_name=f"bn{index}",
                               act_name=f"relu{index}", gamma_initializer=gamma,
                               kernel_initializer=conv_init(groups))

    def apply(x):
        y = conv(x, bottleneck, 1, 1)
        y = conv(y, bottleneck, 3, 2, strides=stride, groups=groups)
        if se_ratio:
            y = SqueezeExcite(rd_channels=int(round(x.shape[-1] * se_ratio)), activation="relu",
                              gate="sigmoid", name=f"{name}_se")(y)
        y = conv(y, width, 1, 3, act=None, gamma="zeros" if zero_init_last else "ones")
        if drop_path:
            y = StochasticDepth(rate=drop_path, name=f"{name}_drop_path")(y)
        shortcut = x
        if stride != 1 or x.shape[-1] != width:
            shortcut = B.conv_norm_act(x, width, 1, strides=stride, act=None, name=name,
                                       conv_name="downsample_conv", norm_name="downsample_bn")
        # The branch first, as resnet.residual (the layers' order).
        y = keras.layers.Add(name=f"{name}_add")([y, shortcut])
        return B.activation(y, "relu", name=f"{name}_out")
    return apply


@A.application()
def RegNet(inputs, depth, w0, wa, wm, group_width, *, bottle_ratio=1.0, se_ratio=0.0,
           zero_init_last=True, name="regnet", dropout_rate=0.0, drop_path_rate=0.0):
    """Builds the RegNet of design-space parameters depth d, w0, wa, wm, group width g and
    bottleneck ratio b (section 3.3 of the paper); se_ratio > 0 is RegNetY (0.25)."""
    if not isinstance(se_ratio, (int, float)) or isinstance(se_ratio, bool) or \
            not 0 <= se_ratio <= 1:
        raise ValueError(f"{name}: `se_ratio` must be in [0, 1] (0: RegNetX, 0.25: RegNetY); "
                         f"got {se_ratio!r}.")
    plan = stages(depth, w0, wa, wm, group_width, bottle_ratio, name=name)
    x = B.conv_norm_act(inputs, STEM_WIDTH, 3, strides=2, name="stem", act_name="relu")
    features = [(2, x)]
    drop_paths = iter(B.drop_path_rates(drop_path_rate, depth))
    for s, stage in enumerate(plan, start=1):
        for b in range(1, stage.depth + 1):
            x = bottleneck_block(stage.width, 2 if b == 1 else 1, name=f"stage{s}_block{b}",
                                 stage=stage, bottle_ratio=bottle_ratio, se_ratio=se_ratio,
                                 zero_init_last=zero_init_last, drop_path=next(drop_paths))(x)
        features.append((2 ** (s + 1), x))
    return A.Network(x, features, dropout_rate=dropout_rate, logits_initializers=LOGITS_INIT)


DOCSTRING = """{summary}

Implementation: {reference}. Registered as `{name}`.

Args:
    dropout_rate: dropout before the logits layer (0 in the reference).
    drop_path_rate: stochastic depth of the last block, linear from 0 at the first (timm).
    zero_init_last: start the last norm of each residual branch at gamma 0 (timm; pycls: False).
""" + RegNet.args_doc

# timm's names: stem.conv/bn, s{stage}.b{block}.conv{k}.conv/bn, .se.fc1/fc2,
# .downsample.conv/bn, head.fc.
TIMM_TOP = {"stem_conv": "stem.conv", "stem_bn": "stem.bn", "logits": "head.fc"}
TIMM_BLOCK = {"se/reduce": "se.fc1", "se/expand": "se.fc2",
              "downsample_conv": "downsample.conv", "downsample_bn": "downsample.bn",
              **{f"{kind}{k}": f"conv{k}.{kind}" for k in (1, 2, 3) for kind in ("conv", "bn")}}


def timm_names(path, model=None):
    parts = path.split("_", 2)
    if len(parts) == 3 and parts[0].startswith("stage") and parts[1].startswith("block"):
        part = TIMM_BLOCK.get(parts[2])
        return part and f"s{parts[0][5:]}.b{parts[1][5:]}.{part}"
    return TIMM_TOP.get(path)


CHECKPOINTS = {"timm": weights.CheckpointMap(timm_names, head=("head.fc.",), norm_epsilon=1e-5)}

# The crop of timm's default weights for each variant: pycls_in1k 0.875, except the
# torchvision-trained (0.965) and timm-trained (0.95) ones.
CROP_PCT = {**dict.fromkeys(("x_008", "x_016", "x_032", "x_080", "x_160", "x_320", "y_004",
                             "y_016", "y_320"), 0.965),
            **dict.fromkeys(("y_032", "y_040", "y_064", "y_080", "y_120", "y_160"), 0.95)}

__all__ = ["RegNet"]
register = functools.partial(registry.register_model, family="RegNet", paper=PAPER,
                             doc=DOCSTRING)


def _define_variant(kind, code, row):
    """Registers regnet{kind}_{code} and exports its constructor RegNet{KIND}{code}."""
    flops, depth, w0, wa, wm, group_width = row
    name, se_ratio = f"regnet{kind}_{code}", SE_RATIO if kind == "y" else 0.0

    def constructor(**kwargs):
        return RegNet(depth, w0, wa, wm, group_width, se_ratio=se_ratio, name=name, **kwargs)
    constructor.__name__ = constructor.__qualname__ = f"RegNet{kind.upper()}{code}"
    constructor.__doc__ = (f"RegNet{kind.upper()}-{flops} (Radosavovic et al. 2020): d={depth}, "
                           f"w0={w0}, wa={wa}, wm={wm}, g={group_width}"
                           + (", squeeze-and-excitation." if se_ratio else "."))
    preprocessing = registry.Preprocessing(interpolation="bicubic",
                                           crop_pct=CROP_PCT.get(f"{kind}_{code}", 0.875))
    globals()[constructor.__name__] = register(name, reference=("timm", name),
                                               preprocessing=preprocessing)(constructor)
    __all__.append(constructor.__name__)


for _kind, _table in (("x", REGNETX), ("y", REGNETY)):  # smallest first: regnetx_002
    for _code, _row in _table.items():
        _define_variant(_kind, _code, _row)
