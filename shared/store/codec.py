"""Items <-> domain values, driven by the field tables of shared/store/schema.py.

An `ItemType` declares once what an item holds: its domain class, its "type" tag, its key,
and one `Field` per attribute (the domain name, the attribute name, how the value is written
and read, and the default an absent attribute reads as). `encode` and `decode` walk that
table, so an attribute is spelled in one place for both directions and for every writer (the
store, the importer) and reader (the store, the in-memory fake, the webhook payload).

A field without a default is required: an item that lacks it raises `MissingAttribute`
(naming the item type and attribute) instead of reading as "", False or None. A field added
after the first release declares the default its older items read as.

The tables are built once, at import; a call walks a tuple of fields (no reflection).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, Generic, NamedTuple, TypeVar

from shared.store.keys import Key

Item = dict[str, Any]
T = TypeVar("T")


def _to_dynamo(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _to_dynamo(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_to_dynamo(v) for v in value]
    return value


def _from_dynamo(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _from_dynamo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_dynamo(v) for v in value]
    if isinstance(value, set):
        return {_from_dynamo(v) for v in value}
    return value


_SERIALIZER: Any = None
_DESERIALIZER: Any = None


def serialize(item: Mapping[str, Any]) -> dict[str, Any]:
    global _SERIALIZER
    if _SERIALIZER is None:
        from boto3.dynamodb.types import TypeSerializer

        _SERIALIZER = TypeSerializer()
    return {k: _SERIALIZER.serialize(_to_dynamo(v)) for k, v in item.items() if v is not None}


def deserialize(item: Mapping[str, Any]) -> Item:
    global _DESERIALIZER
    if _DESERIALIZER is None:
        from boto3.dynamodb.types import TypeDeserializer

        _DESERIALIZER = TypeDeserializer()
    return {k: _from_dynamo(_DESERIALIZER.deserialize(v)) for k, v in item.items()}


# --------------------------------------------------------------------------- the field table


class MissingAttribute(KeyError):
    """An item lacks an attribute its type requires: a writer and this table disagree."""

    def __init__(self, item_type: str, attribute: str) -> None:
        super().__init__(f"{item_type} item has no {attribute!r}")
        self.item_type = item_type
        self.attribute = attribute


class Kind(NamedTuple):
    """How one value is written (domain -> attribute) and read back (attribute -> domain).
    `write` returning None leaves the attribute out (an empty list, say)."""

    write: Callable[[Any], Any]
    read: Callable[[Any], Any]


def _same(value: Any) -> Any:
    return value


RAW = Kind(_same, _same)
REQUIRED: Any = object()  # the default of a field every item of its type carries


class Field(NamedTuple):
    name: str  # the domain attribute
    attr: str  # the item attribute
    kind: Kind
    default: Any
    sparse: bool  # the default is not written (the item leaves the attribute out)


def F(
    name: str, kind: Kind = RAW, *, attr: str | None = None, default: Any = REQUIRED, sparse: bool = False
) -> Field:
    return Field(name, attr or name, kind, default, sparse)


class ItemType(Generic[T]):
    """One item type: `key` builds its key from a value (None: the caller names the key, as
    for an alias, whose key is the identifier it resolves); `from_key` reads back the fields
    the key holds; `index` adds index keys; `tag` is the item's "type" (None: a part of
    another item, as a nested map or the guard's attributes on its voucher)."""

    __slots__ = ("cls", "fields", "from_key", "index", "key", "tag")

    def __init__(
        self,
        cls: Callable[..., T],
        tag: str | None,
        *fields: Field,
        key: Callable[[T], Key] | None = None,
        from_key: Callable[[Mapping[str, Any]], dict[str, Any]] | None = None,
        index: Callable[[T], Key] | None = None,
    ) -> None:
        self.cls, self.tag, self.fields = cls, tag, fields
        self.key, self.from_key, self.index = key, from_key, index

    def attrs(self, *names: str) -> tuple[str, ...]:
        """`names`, each checked to be an attribute of this type (a list of attributes kept
        elsewhere, such as a payload's allow-list, fails at import if one is renamed here)."""
        declared = {f.attr for f in self.fields}
        for name in names:
            if name not in declared:
                raise KeyError(f"{self.tag} items have no attribute {name!r}")
        return names


def attributes(t: ItemType[T], value: T, *, keep_none: bool = False) -> Item:
    """The attributes `value` writes (without key, tag or index); None values are left out,
    except inside a nested map (where serialize drops them)."""
    item: Item = {}
    for f in t.fields:
        v = getattr(value, f.name)
        written = None if v is None or (f.sparse and v == f.default) else f.kind.write(v)
        if written is not None or keep_none:
            item[f.attr] = written
    return item


def encode(t: ItemType[T], value: T, key: Key | None = None) -> Item:
    """The whole item: key (`key`, or the type's own), "type", attributes, index keys."""
    if key is None:
        if t.key is None:
            raise TypeError(f"a {t.tag} item's key is named by its caller")
        key = t.key(value)
    item: Item = {**key, "type": t.tag, **attributes(t, value)}
    if t.index is not None:
        item.update(t.index(value))
    return item


def decode(t: ItemType[T], item: Mapping[str, Any]) -> T:
    values = t.from_key(item) if t.from_key is not None else {}
    for f in t.fields:
        raw = item.get(f.attr)
        if raw is not None:
            values[f.name] = f.kind.read(raw)
        elif f.default is REQUIRED:
            raise MissingAttribute(t.tag or t.cls.__name__, f.attr)
        else:
            values[f.name] = dict(f.default) if type(f.default) is dict else f.default
    return t.cls(**values)


def nested(t: ItemType[Any]) -> Kind:
    """A map attribute holding a value of `t` (a voucher's activation, a definition's provider)."""
    return Kind(lambda v: attributes(t, v, keep_none=True), lambda m: decode(t, m))
