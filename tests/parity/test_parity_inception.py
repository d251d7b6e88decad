"""Numerical parity of the Inception families with their references (torchvision's GoogLeNet
and Inception-v3, timm's Inception-v4 and Inception-ResNet-v2, Cadene's BN-Inception written
out in parity_references/inception.py); Inception-ResNet-v1 has no code reference."""

import pytest

from tests import support

pytestmark = support.PARITY_MARKS

# (variant, options, also at 160x192): the auxiliary classifiers are in the Keras models and
# in the references' checkpoints (imported too), not in the compared eval logits.
CASES = [("googlenet", {}, True), ("inception_v2", {}, False), ("inception_v3", {}, False),
         ("inception_v4", {}, False), ("inception_resnet_v2", {}, False)]


@pytest.mark.parametrize("case", CASES, ids=support.parity_case_id)
def test_logits_equal_the_reference(case):
    support.assert_parity(*case)
