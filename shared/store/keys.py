"""Every key format of the single table. Nothing outside shared/store/ builds a pk or sk.

docs/data-model.md lists the access patterns these keys serve.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from shared.domain import format_instant
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
    def session(token_hash: str) -> Key:
        return Keys._k(f"SESSION#{token_hash}", "SESSION")

    @staticmethod
    def of(item: Mapping[str, Any]) -> tuple[str, str]:
        return (str(item[PK]), str(item[SK]))


def key_id(key: Mapping[str, Any]) -> tuple[str, str]:
    return (str(key[PK]), str(key[SK]))
