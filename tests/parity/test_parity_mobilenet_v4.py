"""Numerical parity of MobileNetV4 with timm (random init, randomized norm statistics): the
smallest, mobilenetv4_conv_small (Conv, ExtraDW, IR and ConvNeXt blocks), at the default and
the non-square size, and mobilenetv4_hybrid_medium (FusedIB, Mobile MQA with downsampled keys
and values, layer scale, BatchNorm after the pooled head convolution) at its 256x256."""

import pytest

from tests import support

pytestmark = support.PARITY_MARKS

# (variant, options, also at the non-square size)
CASES = [("mobilenetv4_conv_small", {}, True), ("mobilenetv4_hybrid_medium", {}, False)]


@pytest.mark.parametrize("case", CASES, ids=support.parity_case_id)
def test_logits_equal_the_reference(case):
    support.assert_parity(*case)
