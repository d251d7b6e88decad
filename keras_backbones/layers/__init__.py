"""The shared custom layers: one theme per file, used by every family that needs them."""

from keras_backbones.layers.activations import HardSigmoid, HardSwish, ScaledTanh
from keras_backbones.layers.attention import CBAM, ECA, SqueezeExcite
from keras_backbones.layers.dual_path import DualPathMerge
from keras_backbones.layers.helpers import make_divisible
from keras_backbones.layers.mobile_attention import MultiQueryAttention
from keras_backbones.layers.normalization import (FoldedBatchNormalization,
                                                    LocalResponseNormalization, ScaleShift,
                                                    batch_norm_affine, fold_batch_norm)
from keras_backbones.layers.pooling import AdaptiveAveragePooling2D, AveragePooling2D, PaddedMaxPooling2D
from keras_backbones.layers.reshaping import Flatten
from keras_backbones.layers.regularization import LayerScale, StochasticDepth
from keras_backbones.layers.shuffle import ChannelShuffle, ChannelSplit
from keras_backbones.layers.split_attention import SplitAttention
