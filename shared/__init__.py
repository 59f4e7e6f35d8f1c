"""Code every function shares (the Lambda asset, with functions/): domain rules, the store
port and its DynamoDB adapter, vendor dialects, use cases, providers, webhook delivery."""
