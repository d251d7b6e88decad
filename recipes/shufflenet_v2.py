"""ShuffleNet V2 — Ma, Zhang, Zheng & Sun, "ShuffleNet V2: Practical Guidelines for Efficient CNN
Architecture Design", ECCV 2018 (section 5, "Experiment"), ShuffleNetV2 1x
(`shufflenet_v2_x1_0`) on ImageNet-1k.

The paper compares its networks with ShuffleNet v1 under that paper's training setting and
gives no schedule of its own; the authors' megvii-model/ShuffleNet-Series repository trains V1
and V2 with the same train.py. So this is recipes/shufflenet_v1.py with the model changed:
SGD with momentum 0.9, learning rate 0.5 at batch 1024 decayed linearly to 0 over 3 x 10^5
iterations (240 epochs), weight decay 4e-5 (kernels only), label smoothing
0.1, random resized crops at 224 and flips. Not reproduced (as there): colour jitter and the
final BatchNorm re-estimation pass of the official code. The recipe was taken from the
ShuffleNet v1 paper and code; the V2 paper's own text was not available when writing it.

    keras-backbones train --recipe recipes/shufflenet_v2.py --recipe.data.path=/data/imagenet
"""

import os

from keras_backbones.training import recipe


def get_config(arg=None):
    del arg
    config = recipe.load(os.path.join(os.path.dirname(__file__), "shufflenet_v1.py"))
    config.model.name = "shufflenet_v2_x1_0"
    return config
