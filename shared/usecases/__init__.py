"""Use cases, one module each: read -> decide (domain) -> Plan(write, answer) -> commit.run
(shared/usecases/commit.py, the one bounded retry loop); the *_rules and spaaza_target modules
hold the judgement a dialect's use cases share."""
