#!/usr/bin/env python3
"""CDK entry point: `cdk synth|deploy [-c stage=prod]` (see docs/deploy.md)."""

from infra.stacks.app_builder import build_app

build_app().synth()
