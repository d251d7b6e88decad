"""Numerical parity of the Dual Path Networks with timm (random init, randomized norm
statistics): the smallest, dpn68 (3x3 stem, small residual widths), at the default and the
non-square size, and the canonical dpn92 (7x7 stem)."""

import pytest

from tests import support

pytestmark = support.PARITY_MARKS

# (variant, options, also at the non-square size)
CASES = [("dpn68", {}, True), ("dpn92", {}, False)]


@pytest.mark.parametrize("case", CASES, ids=support.parity_case_id)
def test_logits_equal_the_reference(case):
    support.assert_parity(*case)
