"""JSON from untrusted bytes, parsed within stated bounds (standard library only).

Whatever a sandbox sends the trusted side (a check's result, probe records, a session's
answer) is parsed here, in time linear in its size: at most :data:`MAX_VALUES` values
(each costs the parser an object: a flood of ``{}`` would cost gigabytes), counted on
the bytes before ``json.loads`` sees them (commas and opening brackets, those inside
strings included: an upper bound); and nested at most :data:`MAX_DEPTH` deep (the
parser's own recursion limit stops a deeper document, and a walk without recursion
checks the rest), so that no later step of the grader recurses out of its stack. Over a
bound, :class:`TooLarge` (a ``ValueError``) says which.
"""

from __future__ import annotations

import json

MAX_VALUES = 200_000
MAX_DEPTH = 64


class TooLarge(ValueError):
    """The document is over a bound (its text says which)."""


def values(data: bytes) -> int:
    """An upper bound of the values in the JSON text ``data`` (less one), at C speed."""
    return data.count(b",") + data.count(b"[") + data.count(b"{")


def loads(data: bytes | str, max_values: int = MAX_VALUES, max_depth: int = MAX_DEPTH):
    """``json.loads`` within the bounds (:class:`TooLarge` over them; ``ValueError`` for
    what is not JSON)."""
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    if values(data) > max_values:
        raise TooLarge(f"more than {max_values:,} values")
    try:
        value = json.loads(data)
    except RecursionError as exc:
        raise TooLarge(f"nested more than {max_depth} deep") from exc
    todo = [(value, 1)]
    while todo:
        item, depth = todo.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > max_depth:
            raise TooLarge(f"nested more than {max_depth} deep")
        todo += [(child, depth + 1) for child in children if isinstance(child, (dict, list))]
    return value
