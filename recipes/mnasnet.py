"""MnasNet — Tan, Chen, Pang, Vasudevan, Sandler, Howard & Le, "MnasNet: Platform-Aware Neural
Architecture Search for Mobile", CVPR 2019 (section 4, "Experimental Setup"), and the official
TPU code (tensorflow/tpu models/official/mnasnet: mnasnet_main.py, mnasnet_utils.py) where the
paper is silent; MNASNet-B1 at width 1.0 (torchvision's mnasnet1_0) on ImageNet-1k.

RMSProp with decay 0.9 and momentum 0.9 (epsilon 1e-3, the official code), learning rate 0.016
per 256 images (0.256 at the paper's batch of 4096), increased linearly from 0 over the first 5
epochs and then multiplied by 0.97 every 2.4 epochs, weight decay 1e-5 (not on norms; the
official code also decays the classifier's bias, which this does not), dropout 0.2 before the
classifier, label smoothing 0.1 and an exponential moving average of the weights with decay
0.9999 (the official code), 350 epochs (the official code's 437,898 steps at batch 1024);
Inception's random crops and flips at 224x224. No AutoAugment: the official mnasnet_main.py
has none (EfficientNet's setup, recipes/efficientnet.py, adds it to this one).

    keras-backbones train --recipe recipes/mnasnet.py --recipe.data.path=/data/imagenet
"""

from keras_backbones.training.recipe import INCEPTION_CROP, defaults, imagenet

EPOCHS = 350
DECAY_EVERY = 2.4  # epochs


def get_config(arg=None):
    del arg
    config = imagenet(defaults())
    config.model.name = "mnasnet1_0"
    config.model.kwargs.dropout_rate = 0.2
    config.augment.update(INCEPTION_CROP, label_smoothing=0.1)
    config.optimizer.update(name="rmsprop", learning_rate=0.016, reference_batch_size=256,
                            rho=0.9, momentum=0.9, epsilon=1e-3, weight_decay=1e-5,
                            decay_norms_and_biases=False)
    decays = int(EPOCHS / DECAY_EVERY)
    config.schedule.update(
        name="step", warmup_epochs=5, warmup_start=0.0, decay_rate=0.97,
        boundaries=tuple(round(DECAY_EVERY * k, 6) for k in range(1, decays + 1)))
    config.ema.decay = 0.9999
    config.epochs = EPOCHS
    config.batch_size = 4096
    return config
