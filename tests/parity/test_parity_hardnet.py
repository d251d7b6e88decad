"""Parity of HarDNet with the official PingoLH/Pytorch-HarDNet code (hand-written in
parity_references/hardnet.py): the smallest, hardnet39ds (depthwise-separable), at the
default and the non-square size, and the canonical hardnet68 at the default size."""

import pytest

from tests import support

pytestmark = support.PARITY_MARKS

CASES = [
    ("hardnet39ds", {}, True),
    ("hardnet68", {}, False),
]


@pytest.mark.parametrize("case", CASES, ids=support.parity_case_id)
def test_logits_equal_the_reference(case):
    support.assert_parity(*case)
