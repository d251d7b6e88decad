"""ConvNeXt against timm (`pytest -m parity`).

timm starts every block's layer scale at 1e-6, so at random init the blocks add almost
nothing to the logits: the published configuration checks the stem, the downsamplers and the
head (whose norms the harness randomizes), and layer_scale_init_value=1.0 (the same timm
model with ls_init_value=1.0: parity_references/convnext.py) makes every block count.
Measured: with GELU replaced by ReLU in every block, convnext_atto passes the first (max
|diff| 1e-6) and fails the second (0.7). atto is timm's conv_mlp form (1x1 convolutions,
channels-first LayerNorm), tiny its Linear form: both checkpoint layouts are covered."""

import pytest

from tests import support

pytestmark = support.PARITY_MARKS

LAYER_SCALE_1 = {"layer_scale_init_value": 1.0}
# (variant, options, also at the non-square size)
CASES = [
    ("convnext_atto", {}, False),
    ("convnext_atto", LAYER_SCALE_1, True),
    ("convnext_tiny", LAYER_SCALE_1, False),
]


@pytest.mark.parametrize("case", CASES, ids=support.parity_case_id)
def test_logits_equal_the_reference(case):
    support.assert_parity(*case)
