"""Infrastructure: the CDK app (``infra.stacks``), bundling and the local stack.

Kept import-free on purpose: the local stack must not pay for importing aws-cdk-lib.
"""
