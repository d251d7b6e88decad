"""LeNet-5 (LeCun et al., 1998), with full C3 connectivity.

C1 (6 maps, 5x5) - S2 (2x2 average) - C3 (16 maps, 5x5) - S4 - C5 (120 maps, 5x5) - F6 (84)
- output, on 32x32 images, with the paper's squashing function f(a) = 1.7159 tanh(2a/3) and
its U(+-2.4/F_in) initialization. Two departures from the paper, as every modern port makes:
C3 connects to all six S2 maps (the paper's Table I connects each to a subset), S2/S4 are plain
average pools (the paper's have a trainable coefficient and bias per map), and the output is a
dense layer rather than Euclidean RBF units. `modern=True` swaps in ReLU and max pooling.
"""

from keras_backbones import registry
from keras_backbones.backend import keras
from keras_backbones.initializers import FanInUniform
from keras_backbones.layers import AveragePooling2D, Flatten, ScaledTanh
from keras_backbones.models import _application as A

PAPER = registry.Paper("Gradient-Based Learning Applied to Document Recognition", 1998, None)

# The paper's scaling of the input: background -0.1, foreground 1.175 (mean ~0, variance ~1).
PREPROCESSING = registry.Preprocessing(input_size=(32, 32, 1), mean=(0.1 / 1.275,),
                                       std=(1 / 1.275,), interpolation="bilinear", crop_pct=1.0)

# (name, maps) of the convolutional layers, each 5x5 "valid", and the hidden dense layer.
CONVS = [("c1", 6), ("c3", 16), ("c5", 120)]
F6_UNITS = 84


@A.application(default_size=32, min_size=32, channels=1, fixed_size_top=True,
               head="F6 and the output layer, which fix the input size",
               input_note="32x32 with the classifier, any size of at least 32x32 without it")
def LeNet(inputs, modern=False, *, name="lenet5", classes):
    """LeNet-5 (the builder of the registered `LeNet5`, which defaults to 10 classes)."""
    def initializer():  # one per layer: an instance shared by layers may repeat its values
        return "he_normal" if modern else FanInUniform(scale=2.4)

    act = keras.layers.ReLU if modern else ScaledTanh
    pool = keras.layers.MaxPooling2D if modern else AveragePooling2D
    x = inputs
    features = []
    for index, (layer, maps) in enumerate(CONVS):
        x = keras.layers.Conv2D(filters=maps, kernel_size=5, padding="valid",
                                kernel_initializer=initializer(), name=layer)(x)
        x = act(name=f"{layer}_act")(x)
        if index < 2:  # S2 and S4 follow C1 and C3
            x = pool(pool_size=2, strides=2, name=f"s{2 * index + 2}")(x)
            features.append((2 ** (index + 1), x))

    def head(x):
        x = Flatten(name="flatten")(x)
        x = keras.layers.Dense(units=F6_UNITS, kernel_initializer=initializer(), name="f6")(x)
        x = act(name="f6_act")(x)
        return keras.layers.Dense(units=classes, kernel_initializer=initializer(),
                                  name="logits")(x)

    return A.Network(x, features, head=head)


DOCSTRING = """{summary}

Reference: LeCun, Bottou, Bengio & Haffner, "Gradient-Based Learning Applied to Document
Recognition" (1998); {reference}. Registered as `{name}` (32x32x1 input, 10 classes).

Args:
    modern: ReLU and max pooling instead of the scaled tanh and average pooling.
""" + LeNet.args_doc


@registry.register_model("lenet5", family="LeNet-5", paper=PAPER, preprocessing=PREPROCESSING,
                         reference=("paper", "LeNet-5 with full C3 connectivity"), doc=DOCSTRING,
                         classes=10)
def LeNet5(modern=False, **kwargs):
    """LeNet-5; `modern=True` uses ReLU and max pooling (and He initialization)."""
    return LeNet(modern, **{"classes": 10, **kwargs})


__all__ = ["LeNet5"]
