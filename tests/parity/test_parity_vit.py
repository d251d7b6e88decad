import pytest

from tests import support

pytestmark = support.PARITY_MARKS

# ViT-Ti/16 also at 160x192: a 10x12 patch grid, so the position embedding is resized
# (timm's reference is built with dynamic_img_size=True: parity_references/vit.py).
CASES = [("vit_tiny_patch16_224", {}, True), support.extended(("vit_small_patch16_224", {}, False))]


@pytest.mark.parametrize("case", CASES, ids=support.parity_case_id)
def test_logits_equal_the_reference(case):
    support.assert_parity(*case)
