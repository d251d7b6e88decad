"""Numerical parity of GhostNet with timm's V1 network (random init, randomized norm
statistics): the smallest, ghostnet_050, at the default and the non-square size, and the
canonical ghostnet_100."""

import pytest

from tests import support

pytestmark = support.PARITY_MARKS

# (variant, options, also at the non-square size)
CASES = [("ghostnet_050", {}, True), ("ghostnet_100", {}, False)]


@pytest.mark.parametrize("case", CASES, ids=support.parity_case_id)
def test_logits_equal_the_reference(case):
    support.assert_parity(*case)
