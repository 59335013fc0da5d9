"""Use cases: one transaction each, the state change and its outbox events written together."""
