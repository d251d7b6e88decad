"""ShuffleNet — Zhang, Zhou, Lin & Sun, "ShuffleNet: An Extremely Efficient Convolutional Neural
Network for Mobile Devices", CVPR 2018 (section 4, "Experiments"), and the official
megvii-model/ShuffleNet-Series code (ShuffleNetV1/train.py) where the paper is silent;
ShuffleNet 1x with 3 groups (`shufflenet_v1_g3_x1_0`) on ImageNet-1k.

The paper mostly follows the ResNeXt setting, with two changes for small networks: weight
decay 4e-5 instead of 1e-4, and a linear-decay learning rate, from 0.5 to 0 (here "poly" with
power 1), at batch 1024 over 3 x 10^5 iterations (240 epochs). SGD with momentum 0.9.
The official code adds label smoothing 0.1, random resized crops at 224 (torchvision's
default 8%..100% of the area), colour jitter 0.4 (brightness, contrast, saturation) and flips.
Not reproduced: the paper's "slightly less aggressive scale augmentation" (it gives no
numbers; the official code uses the default crops above), the colour jitter (the data pipeline
has none), and the official code's last pass over the data that re-estimates the BatchNorm
statistics at momentum 1/step. Weight decay applies to kernels only, not to norms and biases
(the official code's get_parameters).

    keras-backbones train --recipe recipes/shufflenet_v1.py --recipe.data.path=/data/imagenet
"""

from keras_backbones.training.recipe import INCEPTION_CROP, defaults, imagenet

BATCH_SIZE = 1024
ITERATIONS = 300_000


def get_config(arg=None):
    del arg
    config = imagenet(defaults())
    config.model.name = "shufflenet_v1_g3_x1_0"
    config.augment.update(INCEPTION_CROP, label_smoothing=0.1)
    config.optimizer.update(name="sgd", learning_rate=0.5, reference_batch_size=BATCH_SIZE,
                            momentum=0.9, weight_decay=4e-5, decay_norms_and_biases=False)
    config.schedule.update(name="poly", power=1.0, min_learning_rate=0.0)
    config.epochs = round(ITERATIONS * BATCH_SIZE / config.data.train_examples)  # 240
    config.batch_size = BATCH_SIZE
    return config
