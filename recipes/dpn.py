"""DPN — Chen, Li, Xiao, Jin, Yan & Feng, "Dual Path Networks", NIPS 2017 (section 5.1,
"Experiments on image classification task", ImageNet-1k), with the augmentation of the
authors' release (cypw/DPNs README); DPN-92 by default, any registered DPN by argument.

SGD with momentum 0.9 on 40 GPUs, the rate divided by 10 when the accuracy stops improving (the
plateau rule of the SGD-era recipes on the validation accuracy, patience 5; the paper watches
the training accuracy), weight decay 1e-4 (ResNeXt's: the value was not checked against the
paper); random mirror and random crops of 8%..100% of the area at aspect ratios 3/4..4/3
(resized bicubically), mean [124, 117, 104] subtracted and the result multiplied by 0.0167
(the registry's preprocessing). The starting rate and batch are section 5.1's, as timm's model
index transcribes them: sqrt(0.1) = 0.316 at 32 images per GPU (batch 1280) for DPN-68, -92
and -107, 0.4 at 1280 for DPN-98, sqrt(0.1) at 24 per GPU (960) for DPN-131; the rate scales
linearly with another batch. The paper gives no epoch count: 120 here is ours (the plateau rule
ends the useful part earlier or later).

Not reproduced: the release's random HSL jitter ([20, 40, 50]; the pipeline has none), and the
mean-max pooling the authors use to test at 320x320 (evaluation here is the model's own global
average pool at 224).

    keras-backbones train --recipe recipes/dpn.py:dpn68 --recipe.data.path=/data/imagenet
"""

import math

from keras_backbones.training.recipe import imagenet_sgd

# (starting learning rate, global batch) per network, section 5.1
SCHEDULE = {"dpn98": (0.4, 1280), "dpn131": (math.sqrt(0.1), 960)}
DEFAULT = (math.sqrt(0.1), 1280)  # DPN-68, -92, -107


def get_config(arg="dpn92"):
    learning_rate, batch_size = SCHEDULE.get(arg, DEFAULT)
    return imagenet_sgd(arg, learning_rate=learning_rate, batch_size=batch_size, epochs=120)
