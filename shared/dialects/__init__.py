"""One module per vendor dialect: each owns its wire format (parsing, field names, status
codes, error envelopes) and nothing else."""
