"""Parity of EfficientNet and EfficientNetV2 with their references: torchvision's B0 (the
smallest, at the default and the non-square size) and V2-S (the canonical V2: Fused-MBConv
stages), and timm's tf_efficientnetv2_b0 (TensorFlow's "same" padding, timm's names). The
larger variants scale the same blocks; full-size B7 parity is too slow for CI."""

import pytest

from tests import support

pytestmark = support.PARITY_MARKS

CASES = [
    ("efficientnet_b0", {}, True),  # torchvision
    ("efficientnet_v2_s", {}, False),  # torchvision
    ("efficientnet_v2_b0", {}, False),  # timm tf_efficientnetv2_b0
]


@pytest.mark.parametrize("case", CASES, ids=support.parity_case_id)
def test_logits_equal_the_reference(case):
    support.assert_parity(*case)
