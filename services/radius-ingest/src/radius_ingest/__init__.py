"""RADIUS accounting ingest: RFC 2866 server publishing session events to Kafka."""
