"""Inception-v3 — Szegedy, Vanhoucke, Ioffe, Shlens & Wojna, "Rethinking the Inception
Architecture for Computer Vision", CVPR 2016 (sections 7 and 8), on ImageNet-1k at 299x299.

RMSProp with decay 0.9 and epsilon 1.0, learning rate 0.045 decayed every two epochs by an
exponential rate of 0.94, gradient clipping at 2.0 (global norm), batch 32 (per replica in the
paper's 50-replica asynchronous training; the rate scales linearly with the batch here), 100
epochs; label smoothing 0.1 (section 7); evaluation with a running average of the weights
(EMA 0.9999). The auxiliary classifier trains with the network (`aux_outputs=True`), its loss
weighted 0.4 (the authors' TF-slim training script: the paper gives no weight). RMSProp
momentum 0.9 and weight decay 4e-5 are TF-slim's (inception_v3_arg_scope); dropout 0.5 before
the logits (the builder's, torchvision's; TF-slim keeps 0.8). Augmentation: Inception crops
(8% to 100% of the area, aspect 3/4 to 4/3) and flips; the colour distortions are not
reproduced.

    keras-backbones train --recipe recipes/inception_v3.py --recipe.data.path=/data/imagenet

`get_config("inception_v4")` (recipes/inception_v4.py) is the same recipe for Inception-v4.
"""

from keras_backbones.training.recipe import INCEPTION_CROP, defaults, imagenet

EPOCHS = 100
AUX_WEIGHT = 0.4


def get_config(arg="inception_v3"):
    config = imagenet(defaults())
    config.model.name = arg
    if arg == "inception_v3":
        config.model.kwargs.aux_outputs = True
        config.loss.aux_weight = AUX_WEIGHT
    config.augment.update(INCEPTION_CROP, label_smoothing=0.1)
    config.optimizer.update(name="rmsprop", learning_rate=0.045, reference_batch_size=32,
                            rho=0.9, momentum=0.9, epsilon=1.0, weight_decay=4e-5, clipnorm=2.0)
    config.schedule.update(name="step", boundaries=tuple(range(2, EPOCHS, 2)), decay_rate=0.94)
    config.ema.decay = 0.9999
    config.epochs = EPOCHS
    config.batch_size = 32
    return config
