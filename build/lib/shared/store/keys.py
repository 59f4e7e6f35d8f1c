"""Every key format of the single table. Nothing outside shared/store/ builds a pk or sk.

docs/data-model.md lists the access patterns these keys serve.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from shared.domain import epoch_millis, format_instant
from shared.ports import ORDER_MS_BOUND, Position
from shared.table_schema import TABLE

Key = dict[str, str]

PK = TABLE.partition_key
SK = TABLE.sort_key
TTL = TABLE.ttl_attribute
GSI1 = TABLE.global_indexes[0]


class Keys:
    """Every key format of the table. Nothing outside this class builds a pk or sk."""

    @staticmethod
    def _k(pk: str, sk: str) -> Key:
        return {PK: pk, SK: sk}

    @staticmethod
    def voucher(serial: str) -> Key:
        return Keys._k(f"VOUCHER#{serial}", "VOUCHER")

    @staticmethod
    def event(serial: str, at: datetime, event_id: str) -> Key:
        return Keys._k(f"VOUCHER#{serial}", f"EVENT#{format_instant(at)}#{event_id}")

    @staticmethod
    def event_prefix() -> str:
        return "EVENT#"

    @staticmethod
    def subscriber(chain_id: int, subscriber_id: str) -> Key:
        """A webhook subscriber lives in its chain's partition: a delivery queries only the
        partition of the event's chain, so it cannot reach another chain's subscribers."""
        return Keys._k(f"WEBHOOKS#{chain_id}", f"SUBSCRIBER#{subscriber_id}")

    @staticmethod
    def subscriber_prefix() -> str:
        return "SUBSCRIBER#"

    @staticmethod
    def voucher_alias(kind: str, value: str | int, chain_id: int | None = None) -> Key:
        """Spaaza identities: voucher_key, voucher_id, third_party_id (per chain)."""
        if kind == "third_party_id":
            return Keys._k(f"VOUCHERID#third_party_id#{chain_id}#{value}", "ALIAS")
        return Keys._k(f"VOUCHERID#{kind}#{value}", "ALIAS")

    @staticmethod
    def definition(definition_id: str) -> Key:
        return Keys._k(f"DEF#{definition_id}", "DEFINITION")

    @staticmethod
    def activity(activity_code: str) -> Key:
        return Keys._k(f"ACTIVITY#{activity_code}", "ACTIVITY")

    @staticmethod
    def catalog_item(activity_code: str, item_code: str) -> Key:
        return Keys._k(f"ACTIVITY#{activity_code}", f"ITEM#{item_code}")

    @staticmethod
    def touchpoint(code: str) -> Key:
        return Keys._k(f"TOUCHPOINT#{code}", "TOUCHPOINT")

    @staticmethod
    def operator_grant(principal_id: str, activity_code: str, item_code: str) -> Key:
        return Keys._k(f"OPERATOR#{principal_id}", f"GRANT#{activity_code}#{item_code}")

    @staticmethod
    def member(member_id: str) -> Key:
        return Keys._k(f"MEMBER#{member_id}", "MEMBER")

    @staticmethod
    def member_alias(kind: str, value: str | int) -> Key:
        """Spaaza end-user identifiers: user_id, member_number, username (lower-cased),
        authentication_point_identifier, auxiliary_identifier."""
        if kind == "username":
            value = str(value).lower()
        return Keys._k(f"MEMBERID#{kind}#{value}", "ALIAS")

    @staticmethod
    def chain(chain_id: int) -> Key:
        return Keys._k(f"CHAIN#{chain_id}", "CHAIN")

    @staticmethod
    def app(hostname: str) -> Key:
        return Keys._k(f"APP#{hostname.lower()}", "APP")

    @staticmethod
    def spaaza_admin_grant(user_id: int, chain_id: int) -> Key:
        return Keys._k(f"SPAAZA_ADMIN#{user_id}", f"CHAIN#{chain_id}")

    @staticmethod
    def principal(kind: str, principal_id: str | int) -> Key:
        """Thalamus users, console users, Spaaza admins and privileged clients."""
        return Keys._k(f"PRINCIPAL#{kind}#{principal_id}", "PRINCIPAL")

    @staticmethod
    def announced(serial: str, reference: str) -> Key:
        """The marker that a provider reference was announced unused (beside its voucher)."""
        return Keys._k(f"VOUCHER#{serial}", f"UNUSED#{reference}")

    @staticmethod
    def idempotency(key_hash: str) -> Key:
        return Keys._k(f"IDEMPOTENCY#{key_hash}", "IDEMPOTENCY")

    @staticmethod
    def session(token_hash: str) -> Key:
        return Keys._k(f"SESSION#{token_hash}", "SESSION")

    @staticmethod
    def owner(member_id: str, issued_at: datetime | None, serial: str) -> Key:
        """A voucher's entry in its member's owner index (gsi1), sorted in the list's order."""
        missing = issued_at is None
        minus_ms = 0 if issued_at is None else -epoch_millis(issued_at)
        return {
            GSI1.partition_key: Keys.owner_partition(member_id),
            GSI1.sort_key: Keys.owner_order(Position(missing, minus_ms, serial)),
        }

    @staticmethod
    def owner_partition(member_id: str) -> str:
        return f"MEMBER#{member_id}"

    @staticmethod
    def owner_order(at: Position) -> str:
        """gsi1's sort key: the list's order (newest issue first, then serial, no issue date
        last) as a string DynamoDB sorts the same way: a flag, the negated milliseconds offset
        into fixed-width digits, then the serial (DynamoDB compares UTF-8 bytes, which order
        as code points do, Python's own string order). An empty serial is the least key of
        its millisecond: the bound a window starts at."""
        return f"{int(at.missing_issue)}#{at.minus_issued_ms + ORDER_MS_BOUND:016d}#{at.serial}"

    @staticmethod
    def owner_window(newest: datetime | None, oldest: datetime | None) -> tuple[str | None, str | None]:
        """Inclusive gsi1 sort-key bounds of the vouchers issued in [oldest, newest] (either
        open), or (None, None) with no window. A window lists only dated vouchers, so its
        upper bound stays below every undated entry ("1#...")."""
        if newest is None and oldest is None:
            return None, None
        low = None if newest is None else Keys.owner_order(Position(False, -epoch_millis(newest), ""))
        if oldest is None:
            return low, "0$"  # "$" follows "#": above every dated key, below every undated one
        ceiling_ms = epoch_millis(oldest + timedelta(microseconds=999))  # whole ms at or after
        # every entry of that millisecond sorts below the next millisecond's empty-serial key
        return low, Keys.owner_order(Position(False, -ceiling_ms + 1, ""))

    @staticmethod
    def of(item: Mapping[str, Any]) -> tuple[str, str]:
        return (str(item[PK]), str(item[SK]))


def key_id(key: Mapping[str, Any]) -> tuple[str, str]:
    return (str(key[PK]), str(key[SK]))
