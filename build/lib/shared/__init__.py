"""Code the three voucher Lambdas share: domain rules, data access, vendor dialects."""
