"""Parity of ShuffleNetV1 and ShuffleNetV2 with their references: torchvision's ShuffleNetV2
(the smallest at the default and the non-square size, the canonical 1.0x at the default) and the
official megvii ShuffleNetV1 (parity_references/shufflenet.py): group 3 at 0.5x (also
non-square), group 8 at 1.0x."""

import pytest

from tests import support

pytestmark = support.PARITY_MARKS

CASES = [
    ("shufflenet_v2_x0_5", {}, True),
    ("shufflenet_v2_x1_0", {}, False),
    ("shufflenet_v1_g3_x0_5", {}, True),
    ("shufflenet_v1_g8_x1_0", {}, False),
]


@pytest.mark.parametrize("case", CASES, ids=support.parity_case_id)
def test_logits_equal_the_reference(case):
    support.assert_parity(*case)
