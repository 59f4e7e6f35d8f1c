"""Narrow cdk-nag (v3) acknowledgments: one rule finding, one construct, one reason."""

from __future__ import annotations

import aws_cdk as cdk
from constructs import IConstruct

PACK = "AwsSolutions"


def acknowledge(construct: IConstruct, rule: str, reason: str, *, applies_to: str | None = None) -> None:
    """Acknowledge ``AwsSolutions-<rule>`` (optionally one finding, e.g. ``Resource::*``) on a construct.

    cdk-nag v3 uses CDK's ``Validations.of().acknowledge``; acknowledgments reach the construct
    and its children, so callers pass the innermost construct that carries the finding.
    """
    rule_id = f"{PACK}-{rule}" + (f"[{applies_to}]" if applies_to else "")
    cdk.Validations.of(construct).acknowledge(cdk.Acknowledgment(id=f"{PACK}::{rule_id}", reason=reason))


def cfn_resource(construct: IConstruct) -> cdk.CfnResource:
    """The L1 resource under an L2 construct (what cdk-nag findings point at)."""
    child = construct.node.default_child
    if not isinstance(child, cdk.CfnResource):
        raise TypeError(f"{construct.node.path} has no CloudFormation resource child")
    return child
