"""DynamoDB on-demand request units of one request, from the items as they were and became.

The rules, from the DynamoDB Developer Guide (cited where applied):

- Item size: attribute names plus values; strings and binaries their bytes; a number about one
  byte per two significant digits plus one; null and boolean one byte; a list or map 3 bytes plus
  one byte per element plus the elements (CapacityUnitCalculations.html). Sets: the sum of their
  elements (the guide gives no overhead for sets).
- A write costs one write request unit (WRU) per started 1 KB of the larger of the item before and
  after (PutItem replacing an item, UpdateItem), at least one. A conditional write whose condition
  fails still costs: the larger of the existing item and the one it tried to write, at least one
  (read-write-operations.html, "Capacity unit consumption for write operations").
- A global secondary index costs writes of its own, of the index entry's size (table key, index
  keys and projected attributes): one to add an entry, one to delete one, two when an index key
  changes (delete and put), one when only projected attributes change, none when the entry is
  unchanged or absent before and after (GSI.html, "Write Capacity Units"). A failed conditional
  write changes nothing, so it writes no index.
- A Query reads the total size of the entries it returns, rounded up to 4 KB: one read request
  unit (RRU) per 4 KB strongly consistent, half of one eventually consistent (index queries always
  are). A Query that finds nothing still pays for the partition it searched: one 4 KB unit here.
"""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

WRITE_UNIT_BYTES = 1024
READ_UNIT_BYTES = 4 * 1024

Item = Mapping[str, Mapping[str, Any]]
"""An item in DynamoDB's wire format: {"name": {"S": "value"}, ...}."""


@dataclass(frozen=True)
class GlobalIndex:
    name: str
    table_key: tuple[str, ...]
    index_key: tuple[str, ...]
    projected: tuple[str, ...]
    """Non-key attributes of an INCLUDE projection."""


def item_size(item: Item) -> int:
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def value_size(value: Mapping[str, Any]) -> int:  # noqa: PLR0911 - one branch per type
    (kind, content), *_ = value.items()
    match kind:
        case "S":
            return len(str(content).encode())
        case "B":
            return len(content)
        case "N":
            return number_size(str(content))
        case "BOOL" | "NULL":
            return 1
        case "SS":
            return sum(len(str(text).encode()) for text in content)
        case "NS":
            return sum(number_size(str(number)) for number in content)
        case "BS":
            return sum(len(binary) for binary in content)
        case "L":
            return 3 + sum(1 + value_size(element) for element in content)
        case "M":
            return 3 + sum(
                1 + len(name.encode()) + value_size(element) for name, element in content.items()
            )
    raise ValueError(f"not a DynamoDB attribute value: {value!r}")


def number_size(text: str) -> int:
    """One byte per two significant digits (leading and trailing zeros trimmed), plus one."""
    digits = "".join(str(digit) for digit in Decimal(text).as_tuple().digits).strip("0")
    return math.ceil(len(digits) / 2) + 1


def write_units(before: Item | None, after: Item | None) -> int:
    """The table's WRU for one PutItem or UpdateItem, succeeded or refused by its condition
    (``after`` is then the item it tried to write)."""
    largest = max(item_size(before or {}), item_size(after or {}))
    return max(1, math.ceil(largest / WRITE_UNIT_BYTES))


def index_entry(item: Item | None, index: GlobalIndex) -> dict[str, Any] | None:
    """The item's entry in the index, or None when it lacks an index key attribute."""
    if item is None or any(name not in item for name in index.index_key):
        return None
    names = (*index.table_key, *index.index_key, *index.projected)
    return {name: item[name] for name in dict.fromkeys(names) if name in item}


def index_write_units(before: Item | None, after: Item | None, index: GlobalIndex) -> int:
    """The index's WRU for a write that changed the item from ``before`` to ``after``."""
    old, new = index_entry(before, index), index_entry(after, index)
    if old == new:
        return 0
    if old is None or new is None:
        return _units(old or new or {})
    if any(old[name] != new[name] for name in index.index_key):
        return _units(old) + _units(new)
    return max(_units(old), _units(new))


def query_read_units(returned: Sequence[Item], *, consistent: bool = False) -> float:
    """RRU of one Query (a single page) that returned these items or index entries."""
    total = sum(item_size(item) for item in returned)
    units = max(1, math.ceil(total / READ_UNIT_BYTES))
    return float(units) if consistent else units / 2


def _units(item: Item) -> int:
    return max(1, math.ceil(item_size(item) / WRITE_UNIT_BYTES))
