"""Numerical parity of RegNetX and RegNetY with timm (random init, randomized norm statistics):
the smallest RegNetX at the default and the non-square size (grouped convolutions, projection
shortcuts) and the smallest RegNetY (squeeze-and-excitation of the block's input width)."""

import pytest

from tests import support

pytestmark = support.PARITY_MARKS

# (variant, options, also at the non-square size)
CASES = [("regnetx_002", {}, True), ("regnety_002", {}, False)]


@pytest.mark.parametrize("case", CASES, ids=support.parity_case_id)
def test_logits_equal_the_reference(case):
    support.assert_parity(*case)
