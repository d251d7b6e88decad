"""HarDNet — Chao, Kao, Ruan, Huang & Lin, "HarDNet: A Low Memory Traffic Network", ICCV 2019
(section 4.1, ImageNet), and the official PingoLH/Pytorch-HarDNet repository (README,
"Hyperparameters"), whose training script is PyTorch's ImageNet example; HarDNet68 on
ImageNet-1k.

SGD with Nesterov momentum 0.9, learning rate 0.05 at batch 256 with cosine decay, weight
decay 6e-5, 150 epochs (the README gives 150 to 250), dropout before the classifier as in the
builder (0.1 for HarDNet68, 0.2 for 85, 0.05 for the ds variants); the PyTorch example's
augmentation: random resized crops at 224 (8%..100% of the area) and flips; weight decay on
every parameter, norms and biases included (that script's). Not reproduced: the README leaves
the warmup and the exact epoch count open (150 here).

    keras-backbones train --recipe recipes/hardnet.py --recipe.data.path=/data/imagenet
    keras-backbones train --recipe recipes/hardnet.py --recipe.model.name=hardnet39ds ...
"""

from keras_backbones.training.recipe import INCEPTION_CROP, defaults, imagenet


def get_config(arg=None):
    del arg
    config = imagenet(defaults())
    config.model.name = "hardnet68"
    config.augment.update(INCEPTION_CROP)
    config.optimizer.update(name="sgd", learning_rate=0.05, reference_batch_size=256,
                            momentum=0.9, nesterov=True, weight_decay=6e-5,
                            decay_norms_and_biases=True)
    config.schedule.update(name="cosine", min_learning_rate=0.0)
    config.epochs = 150
    config.batch_size = 256
    return config
