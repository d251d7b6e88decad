"""MobileNetV1 — Howard, Zhu, Chen, Kalenichenko, Wang, Weyand, Andreetto & Adam, "MobileNets:
Efficient Convolutional Neural Networks for Mobile Vision Applications", 2017 (section 4,
"Training"), MobileNet-224 at width 1.0 on ImageNet-1k.

RMSprop, "similar to Inception V3" (Szegedy et al. 2016: decay 0.9, epsilon 1.0; momentum 0.9,
TF-slim's train_image_classifier default), learning rate 0.045 multiplied by 0.98 after every
epoch (the MobileNetV1 setup as the MobileNetV2 paper reports it), weight decay 4e-5 (TF-slim's
mobilenet_v1 arg scope) on the convolution and classifier kernels but "very little or no
weight decay on the depthwise filters" (none here) and none on norms and biases. No label
smoothing and no auxiliary heads; Inception's random crops with the "small crops limited"
(ours: at least 25% of the area, the paper gives no number) and flips.

Not in the paper (ours): the batch, 96 per GPU on 16 GPUs as the MobileNetV2 paper's setup
(synchronous here; the paper trained asynchronously), and the length, 300 epochs. The learning
rate scales linearly with the batch.

    keras-backbones train --recipe recipes/mobilenet_v1.py --recipe.data.path=/data/imagenet
"""

from keras_backbones.training.recipe import defaults, imagenet

EPOCHS = 300


def get_config(arg=None):
    del arg
    config = imagenet(defaults())
    config.model.name = "mobilenet_v1"
    config.augment.update(crop_scale=(0.25, 1.0), crop_ratio=(3 / 4, 4 / 3), flip=True)
    config.optimizer.update(name="rmsprop", learning_rate=0.045, reference_batch_size=96 * 16,
                            rho=0.9, momentum=0.9, epsilon=1.0, weight_decay=4e-5,
                            decay_norms_and_biases=False, no_decay_names=(r"_dw_conv/",))
    config.schedule.update(name="step", decay_rate=0.98, boundaries=tuple(range(1, EPOCHS)))
    config.epochs = EPOCHS
    config.batch_size = 96 * 16
    return config
