"""The application base (keras_backbones/models/_application.py): the keras.applications
arguments, features_only / out_indices / feature_info, the registered variant on the model,
and the docstrings, the same for every family because every family builds through it."""

import inspect

import numpy as np
import pytest

from keras_backbones import models, registry
from keras_backbones.models import _application
from tests import support

ALL = registry.list_models()
BUILDERS = sorted({registry.get_spec(name).builder.__module__ for name in ALL})


def test_every_registered_constructor_goes_through_the_base():
    """Each variant's constructor reaches an application body: the arguments are checked
    before anything is built (an error naming the variant, for every one of them)."""
    for name in ALL:
        with pytest.raises(ValueError, match="features_only=True returns the feature maps"):
            registry.create_model(name, features_only=True, include_top=True)
        with pytest.raises(ValueError, match="`out_indices` selects feature maps"):
            registry.create_model(name, out_indices=(0,))
        with pytest.raises(ValueError, match="`classes` must be a positive integer"):
            registry.create_model(name, classes=0)


def test_every_docstring_states_the_application_arguments_once():
    for name in ALL:
        doc = inspect.getdoc(registry.get_spec(name).builder)
        for argument in (*_application.APPLICATION_ARGUMENTS, "name"):
            assert doc.count(f"\n    {argument}: ") == 1, (name, argument)
        height, width, channels = registry.get_spec(name).preprocessing.input_size
        assert f"({height}, {width}, {channels}) by default" in doc, name
        assert "{" not in doc.split("Args:")[1].split("features_only")[0], name


def test_builders_called_directly_check_the_arguments_too():
    from keras_backbones.models.resnet import ResNet

    with pytest.raises(ValueError, match="got include_top=True"):
        ResNet(18, features_only=True, include_top=True)
    with pytest.raises(ValueError, match="got pooling='avg'"):
        ResNet(18, features_only=True, pooling="avg")
    with pytest.raises(TypeError, match="ResNet: .*unexpected keyword argument 'include_tops'"):
        ResNet(18, include_tops=False)
    model = ResNet(18, include_top=False, input_shape=(64, 64, 3))
    assert model.variant is None and model.name == "resnet"
    from keras_backbones.models.resnet_v2 import WideResNetCIFAR

    assert inspect.signature(WideResNetCIFAR).parameters["classes"].default == 10


def test_out_indices_select_feature_maps_timm_style():
    shape = (64, 64, 3)
    full = registry.create_model("resnet18", features_only=True, input_shape=shape)
    assert [(i.name, i.stride, i.channels) for i in full.feature_info] == [
        ("stride2", 2, 64), ("stride4", 4, 64), ("stride8", 8, 128), ("stride16", 16, 256),
        ("stride32", 32, 512)]
    assert full.output_names == [i.name for i in full.feature_info]
    chosen = registry.create_model("resnet18", features_only=True, input_shape=shape,
                                   out_indices=(1, -1))
    assert [i.stride for i in chosen.feature_info] == [4, 32]
    assert [tuple(o.shape) for o in chosen.outputs] == [(None, 16, 16, 64), (None, 2, 2, 512)]
    images = support.random_images(shape)
    chosen.set_weights(full.get_weights())  # same layers: the same maps
    np.testing.assert_allclose(np.asarray(chosen(images)[1]), np.asarray(full(images)[4]),
                               rtol=1e-6)


@pytest.mark.parametrize("out_indices, message", [
    ((5,), r"out_indices 5 out of range: resnet18 has 5 feature maps \(strides 2, 4, 8, 16, "
           r"32\): indices 0 to 4 or -5 to -1"),
    ((-6, 0), "out_indices -6 out of range"),
    ((1, -4), r"select a feature map twice"),
    ((), "must be a non-empty tuple of integers"),
    ((1.0,), "must be a non-empty tuple of integers"),
    ((True,), "must be a non-empty tuple of integers"),
    (3, "must be a non-empty tuple of integers"),
])
def test_a_bad_out_index_names_the_valid_ones(out_indices, message):
    with pytest.raises(ValueError, match=message):
        registry.create_model("resnet18", features_only=True, out_indices=out_indices)


def test_the_classifier_model_describes_its_feature_maps():
    model = registry.create_model("mobilenet_v2", input_shape=(64, 64, 3))
    info = model.feature_info
    assert [i.stride for i in info] == [2, 4, 8, 16, 32]
    for item in info:
        assert model.get_layer(item.layer).output.shape[-1] == item.channels


def test_a_renamed_model_keeps_its_variant():
    model = registry.create_model("mobilenet_v2", name="my_backbone", input_shape=(64, 64, 3))
    assert (model.name, model.variant) == ("my_backbone", "mobilenet_v2")
    features = registry.create_model("mobilenet_v2", name="fpn_body", features_only=True,
                                     input_shape=(64, 64, 3))
    assert (features.name, features.variant) == ("fpn_body", "mobilenet_v2")
    # A variant built by another registered constructor is the one the user asked for.
    eca = registry.create_model("eca_mobilenet_v2", input_shape=(64, 64, 3))
    assert eca.variant == "eca_mobilenet_v2"


def test_the_default_input_size_is_the_registered_variants():
    for name in ("efficientnet_b3", "inception_v3", "lenet5"):
        model = registry.create_model(name, include_top=False)
        assert tuple(model.input_shape[1:]) == registry.get_spec(name).preprocessing.input_size


@pytest.mark.parametrize("old, new", sorted(models.RENAMED.items()))
def test_renamed_builders_still_work_with_a_warning(old, new):
    import keras_backbones

    with pytest.warns(DeprecationWarning, match=f"keras_backbones.{old} is now"):
        assert getattr(keras_backbones, old) is getattr(keras_backbones, new)
