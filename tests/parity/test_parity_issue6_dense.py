"""Numerical parity of DenseNet, SqueezeNet and Xception with torchvision and timm."""

import pytest

from tests import support

pytestmark = support.PARITY_MARKS

# (variant, options, also at the non-square size)
CASES = [
    ("densenet121", {}, True), support.extended(("densenet161", {}, False)),
    ("squeezenet1_0", {}, True), ("squeezenet1_1", {}, True),
    # the paper's bypasses (parity_references/squeezenet.py)
    ("squeezenet1_0", {"bypass": "simple"}, False), ("squeezenet1_0", {"bypass": "complex"}, False),
    ("xception", {}, True),
]


@pytest.mark.parametrize("case", CASES, ids=support.parity_case_id)
def test_logits_equal_the_reference(case):
    support.assert_parity(*case)
