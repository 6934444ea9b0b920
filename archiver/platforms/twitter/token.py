"""The syndication `token`: react-tweet's JavaScript, ported with V8's number formatting."""

from __future__ import annotations

import math

_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


def js_number_to_string(value: float, radix: int = 10) -> str:
    """JavaScript's `Number.prototype.toString(radix)` for finite doubles, as V8 computes it.

    V8 emits fractional digits only until the double is uniquely identified (shortest round
    trip), rounding half to even with carry into earlier digits; the token needs exactly that.
    """
    if not 2 <= radix <= 36:
        raise ValueError(f"radix must be between 2 and 36, got {radix}")
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if radix == 10:
        raise ValueError("radix 10 uses JavaScript's decimal algorithm, which is not ported")
    negative = value < 0
    value = -value if negative else value
    integer = math.floor(value)
    fraction = value - integer
    delta = max(0.5 * (math.nextafter(value, math.inf) - value), math.ulp(0.0))
    fraction_digits: list[int] = []
    if fraction >= delta:
        while True:
            fraction *= radix
            delta *= radix
            digit = int(fraction)
            fraction_digits.append(digit)
            fraction -= digit
            if (fraction > 0.5 or (fraction == 0.5 and digit & 1)) and fraction + delta > 1:
                # Round up, carrying through digits that were already radix - 1.
                while fraction_digits and fraction_digits[-1] + 1 == radix:
                    fraction_digits.pop()
                if fraction_digits:
                    fraction_digits[-1] += 1
                else:
                    integer += 1
                break
            if fraction < delta:
                break
    integer_digits: list[str] = []
    whole = float(integer)
    # Digits below a double's precision are not represented; V8 writes zeros for them.
    while math.frexp(whole / radix)[1] > 53:
        whole /= radix
        integer_digits.append("0")
    while True:
        remainder = math.fmod(whole, radix)
        integer_digits.append(_DIGITS[int(remainder)])
        whole = (whole - remainder) / radix
        if whole <= 0:
            break
    text = "".join(reversed(integer_digits))
    if fraction_digits:
        text += "." + "".join(_DIGITS[d] for d in fraction_digits)
    return "-" + text if negative else text


def syndication_token(tweet_id: str) -> str:
    """The `token` the syndication endpoint expects, as react-tweet computes it in JavaScript."""
    if not tweet_id.isdigit():
        raise ValueError(f"tweet IDs are decimal digits, got {tweet_id!r}")
    raw = js_number_to_string(float(int(tweet_id)) / 1e15 * math.pi, 36)
    return raw.replace("0", "").replace(".", "")
