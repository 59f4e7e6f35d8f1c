"""Use cases: hydrate -> authorize -> decide (domain) -> commit (store), with retries."""
