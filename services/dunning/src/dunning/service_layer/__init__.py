"""Use cases: each one transaction, the state change and its outbox events written together."""
