"""CDK stacks of the voucher service: ``VoucherData-<stage>`` (stateful) and ``VoucherApi-<stage>``."""
