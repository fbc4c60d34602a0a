"""DynamoDB's documented item-size rule, and the capacity units it implies.

The rule, from "DynamoDB item sizes and formats" (developerguide/CapacityUnitCalculations.html):

- an item's size is the sum, over its attributes, of the attribute name's UTF-8 length plus the
  value's size;
- String: its UTF-8 bytes; Binary: its raw bytes (not the base64 text);
- Number: 1 byte per two significant digits (leading and trailing zeroes trimmed) + 1 byte;
- Boolean and Null: 1 byte;
- List and Map: 3 bytes of overhead + 1 byte per element + the elements' sizes (a Map element is
  its name's UTF-8 length + its value's size);
- sets: the sum of their elements' sizes.

Capacity (developerguide/provisioned-capacity-mode.html, transaction-apis.html):

- write: 1 WCU per 1 KB, rounded up per item; transactional write: 2 WCU per 1 KB per item; for
  an update or a replacing put, the larger of the item's size before and after counts;
- read: 1 RCU per 4 KB strongly consistent, half for eventually consistent; transactional 2.

Values are DynamoDB JSON (`{"S": "x"}`, `{"N": "12"}`, ...), as the low-level client sends them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

KB = 1024
READ_UNIT_BYTES = 4 * KB


def number_size(text: str) -> int:
    """Bytes of a Number: 1 per two significant digits, plus 1."""
    digits = Decimal(text).normalize().as_tuple().digits  # trailing zeroes trimmed, no leading
    significant = max(1, len(digits))
    return math.ceil(significant / 2) + 1


def value_size(value: Mapping[str, Any]) -> int:
    """Bytes of one attribute value in DynamoDB JSON (its name not included)."""
    ((kind, data),) = value.items()
    if kind == "S":
        return len(data.encode())
    if kind == "N":
        return number_size(data)
    if kind == "B":
        return len(bytes(data))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode()) for s in data)
    if kind == "NS":
        return sum(number_size(n) for n in data)
    if kind == "BS":
        return sum(len(bytes(b)) for b in data)
    if kind == "L":
        return 3 + sum(1 + value_size(element) for element in data)
    if kind == "M":
        return 3 + sum(1 + len(name.encode()) + value_size(element) for name, element in data.items())
    raise ValueError(f"unknown DynamoDB type {kind!r}")


def item_size(item: Mapping[str, Any] | None) -> int:
    """Bytes of an item in DynamoDB JSON (0 for no item)."""
    if not item:
        return 0
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def write_units(size: int) -> int:
    """WCU of a standard write of an item of `size` bytes (at least 1)."""
    return max(1, math.ceil(size / KB))


def transactional_write_units(size: int) -> int:
    """WCU of one item of a TransactWriteItems: 2 per KB, rounded up (at least 2)."""
    return 2 * write_units(size)


def read_units(size: int, *, consistent: bool) -> float:
    """RCU of reading `size` bytes in one GetItem (or the total of a Query/Scan page)."""
    units = max(1, math.ceil(size / READ_UNIT_BYTES))
    return float(units) if consistent else units / 2


# Sizes worked by the documented rule, one per type and per overhead; a wrong rule fails here.
DOCUMENTED_SIZES: list[tuple[str, dict[str, Any], int]] = [
    ("string: name + UTF-8 bytes", {"name": {"S": "keyboard"}}, 4 + 8),
    ("string: multi-byte UTF-8 (Hangul is 3 bytes)", {"n": {"S": "키보드"}}, 1 + 9),
    ("number: 5 significant digits -> 3 + 1", {"price": {"N": "12345"}}, 5 + 4),
    ("number: trailing zeroes trimmed (89000 is 2 digits)", {"price": {"N": "89000"}}, 5 + 2),
    ("number: leading zeroes trimmed (0.0015 is 2 digits)", {"r": {"N": "0.0015"}}, 1 + 2),
    ("binary: raw bytes, not base64", {"b": {"B": b"\x00\x01\x02"}}, 1 + 3),
    ("boolean and null: 1 byte", {"t": {"BOOL": True}, "z": {"NULL": True}}, 1 + 1 + 1 + 1),
    ("empty list/map: 3 bytes", {"l": {"L": []}, "m": {"M": {}}}, 1 + 3 + 1 + 3),
    ("list: 3 + 1 per element + elements", {"l": {"L": [{"S": "ab"}, {"N": "1"}]}}, 1 + 3 + (1 + 2) + (1 + 2)),
    ("map: 3 + 1 per element + names + values", {"m": {"M": {"ab": {"S": "xyz"}}}}, 1 + 3 + 1 + 2 + 3),
    ("string set: sum of elements", {"s": {"SS": ["a", "bc"]}}, 1 + 3),
]

# Capacity by the documented rounding (1 KB per write unit, 4 KB per read unit, x2 in a transaction).
DOCUMENTED_UNITS: list[tuple[str, float, float]] = [
    ("write of a 1 KB item: 1 WCU", write_units(1024), 1),
    ("write of a 3.5 KB item: 4 WCU", write_units(3584), 4),
    ("transactional write of a 1 KB item: 2 WCU", transactional_write_units(1024), 2),
    ("transactional write of a 3.5 KB item: 8 WCU", transactional_write_units(3584), 8),
    ("strongly consistent read of 8 KB: 2 RCU", read_units(8 * KB, consistent=True), 2),
    ("eventually consistent read of 8 KB: 1 RCU", read_units(8 * KB, consistent=False), 1),
    ("eventually consistent read of 1 byte: 0.5 RCU", read_units(1, consistent=False), 0.5),
]


def self_check() -> list[str]:
    """Assert the documented sizes and units; the names of the checks that passed."""
    passed = []
    for name, item, expected in DOCUMENTED_SIZES:
        got = item_size(item)
        assert got == expected, f"item-size rule is wrong: {name}: computed {got} bytes, documented {expected}"
        passed.append(name)
    for name, got_units, expected_units in DOCUMENTED_UNITS:
        assert got_units == expected_units, f"capacity rule is wrong: {name}: computed {got_units}"
        passed.append(name)
    return passed


def calibration_items() -> list[tuple[str, dict[str, Any], int]]:
    """Items of exactly 1,024 and 1,025 bytes by this rule, one pair per shape the shop stores,
    with the WCU a standard PutItem of each must consume (1 and 2): DynamoDB Local, which sizes
    single-item writes itself, must agree with the rule at the boundary."""
    shapes: list[tuple[str, dict[str, Any]]] = [
        ("strings", {}),
        ("numbers", {"price": {"N": "329000"}, "stock": {"N": "1000000000"}}),
        ("list of maps", {"items": {"L": [{"M": {"productId": {"S": "p-1"}, "units": {"N": "7"}}}]}}),
        ("nested map", {"discount": {"M": {"type": {"S": "PERCENT"}, "rate": {"N": "10"}}}}),
        ("multi-byte string", {"name": {"S": "기계식 키보드"}}),
    ]
    items = []
    for index, (shape, attributes) in enumerate(shapes):
        base = {"productId": {"S": f"calibration-{index}"}, **attributes}
        for target, units in ((1024, 1), (1025, 2)):
            padding = target - item_size(base) - len("pad")
            items.append((f"{shape} ({target} B)", {**base, "pad": {"S": "x" * padding}}, units))
    for name, item, _ in items:
        assert item_size(item) in (1024, 1025), name
    return items
