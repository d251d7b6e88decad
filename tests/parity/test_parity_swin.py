"""Swin Transformer against timm (`pytest -m parity`).

Swin-T at 224, and at 160x192. timm's Swin takes only the input size it was built for; the
reference (parity_references/swin.py) runs the 224 model at the input's size as timm runs
a 224 checkpoint there: at 160x192 every stage pads its map to whole windows (40x48 -> 42x49,
...), and the last stage (5x6, smaller than the window) attends over the whole map, unshifted,
with its 13x13 relative position tables resampled to 9x11 (resize_rel_pos_bias_table). The
reference's tables are drawn from N(0, 1), so that the bias, its index and its resampling
count in the logits (at timm's N(0, 0.02) a center crop instead of the resampling passes)."""

from keras_backbones import parity
from tests import support

pytestmark = support.PARITY_MARKS


def test_logits_equal_the_reference_at_224_and_non_square():
    results = parity.compare("swin_tiny_patch4_window7_224", [(224, 224), support.NON_SQUARE],
                             reference_options={"at_input_size": True})
    for result in results:
        assert result.ok, (f"at {result.size}: max |diff| {result.max_abs_diff:.3g} > "
                           f"{result.tolerance:.3g}")
