"""Numerical parity of ResNeSt with timm (random init, randomized norm statistics): the
smallest, resnest14d, at the default and the non-square size (split attention with its
r-SoftMax, avd pools, average-pool shortcuts, the deep stem), and the paper's
ResNeSt-50."""

import pytest

from tests import support

pytestmark = support.PARITY_MARKS

# (variant, options, also at the non-square size)
CASES = [("resnest14d", {}, True), ("resnest50d", {}, False)]


@pytest.mark.parametrize("case", CASES, ids=support.parity_case_id)
def test_logits_equal_the_reference(case):
    support.assert_parity(*case)
