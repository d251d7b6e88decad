"""Parity of the mobile families (MobileNetV1/V2/V3, MNASNet, ECA-MobileNetV2) with their
references: the smallest of each family at the default and the non-square size, the
canonical ones and the options at the default size. The width multipliers of the timm
references (alpha 0.75, 0.35) and the minimalistic MobileNetV3 import timm checkpoints under
timm's names, which this per-variant harness does not switch to: they were checked once by
hand, within the same tolerance."""

import pytest

from tests import support

pytestmark = support.PARITY_MARKS

CASES = [
    ("mobilenet_v1", {}, True),  # timm mobilenetv1_100
    ("mobilenet_v2", {}, True),  # torchvision
    ("mobilenet_v3_small", {}, True), ("mobilenet_v3_large", {}, False),  # torchvision
    ("mobilenet_v3_small", {"dilated": True, "reduced_tail": True}, False),  # torchvision's options
    ("mnasnet_small", {}, False),  # timm: squeeze-and-excitation with a sigmoid gate
    ("mnasnet1_0", {}, False),  # torchvision
    ("eca_mobilenet_v2", {}, False),  # official BangguWu/ECANet (parity_references/mobile.py)
]


@pytest.mark.parametrize("case", CASES, ids=support.parity_case_id)
def test_logits_equal_the_reference(case):
    support.assert_parity(*case)
