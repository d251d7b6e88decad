"""Small helpers shared by the layers and the family builders."""


def make_divisible(value, divisor=8, min_value=None, round_limit=0.9):
    """Rounds a channel count to the nearest multiple of `divisor`, as timm's make_divisible.

    The result is at least `min_value` (default `divisor`); when rounding down would lose more
    than `1 - round_limit` of `value`, one more `divisor` is added."""
    min_value = min_value or divisor
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if rounded < round_limit * value:
        rounded += divisor
    return rounded
