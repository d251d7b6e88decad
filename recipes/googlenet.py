"""GoogLeNet — Szegedy, Liu, Jia, Sermanet, Reed, Anguelov, Erhan, Vanhoucke & Rabinovich,
"Going Deeper with Convolutions", CVPR 2015 (section 6, "Training Methodology"), on ImageNet-1k.

SGD with momentum 0.9 and a fixed schedule: the rate decreased by 4% every 8 epochs; Polyak
averaging of the weights for the final model (an EMA, decay 0.9999: the paper gives none). The
two auxiliary classifiers train with the network, their losses weighted 0.3 (section 5): the
model is built with `aux_outputs=True`, whose aux1/aux2 outputs the train loop weights by
loss.aux_weight. Dropout 40% before the main classifier (table 1; the builder's default is
torchvision's 20%), 70% in the auxiliary ones (the builder's). Augmentation: crops of 8% to
100% of the image area with aspect ratio in [3/4, 4/3] (section 6), and flips.

The paper gives no rate, batch or length; those of the authors' replication in Caffe
(models/bvlc_googlenet/solver.prototxt, "the original solver") are used: rate 0.01 at batch
32 (scaled linearly with the batch), x0.96 every 320K iterations (8 epochs), weight decay 2e-4,
10M iterations (250 epochs). Not reproduced: the photometric distortions, and asynchronous
training. The network is torchvision's (BatchNorm after every convolution); `lrn=True` adds
the paper's local response normalization.

    keras-backbones train --recipe recipes/googlenet.py --recipe.data.path=/data/imagenet
"""

from keras_backbones.training.recipe import INCEPTION_CROP, imagenet_sgd

EPOCHS = 250


def get_config(arg=None):
    del arg
    config = imagenet_sgd("googlenet", learning_rate=0.01, batch_size=32, epochs=EPOCHS,
                          weight_decay=2e-4, boundaries=range(8, EPOCHS, 8), crop=INCEPTION_CROP,
                          aux_outputs=True, dropout_rate=0.4)
    config.schedule.decay_rate = 0.96
    config.loss.aux_weight = 0.3
    config.ema.decay = 0.9999
    return config
