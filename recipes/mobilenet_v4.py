"""MobileNetV4 — Qin, Leichner, Delakis, Fornoni, Luo, Yang, Wang, Banbury, Ye, Akin, Aggarwal,
Zhu, Moro & Howard, "MobileNetV4: Universal Models for the Mobile Ecosystem", ECCV 2024
(appendix, training setup), MobileNetV4-Conv-S (timm's mobilenetv4_conv_small) on
ImageNet-1k.

PROVISIONAL: the paper's per-model hyperparameters (its appendix tables) were not checked
against its text when this recipe was written (no access to the paper in that session). Until
they are, this is the AdamW + cosine recipe of the ConvNeXt era that the paper's models were
trained with (recipes/convnext.py's optimizer and schedule: AdamW 4e-3 at batch 4096, 20
warmup epochs, cosine to 0, weight decay 0.05 off norms and biases, EMA 0.9999), without
Mixup/CutMix, with label smoothing 0.1 and Inception crops and flips, at the model's 224x224.
Not reproduced: the paper's own numbers, and its distillation (section 7).

    keras-backbones train --recipe recipes/mobilenet_v4.py --recipe.data.path=/data/imagenet
"""

from keras_backbones.training.recipe import INCEPTION_CROP, defaults, imagenet

EPOCHS = 300


def get_config(arg=None):
    del arg
    config = imagenet(defaults())
    config.model.name = "mobilenetv4_conv_small"
    config.augment.update(INCEPTION_CROP, label_smoothing=0.1)
    config.optimizer.update(name="adamw", learning_rate=4e-3, reference_batch_size=4096,
                            weight_decay=0.05, decay_norms_and_biases=False)
    config.schedule.update(name="cosine", warmup_epochs=20, warmup_start=0.0)
    config.ema.decay = 0.9999
    config.epochs = EPOCHS
    config.batch_size = 4096
    return config
