"""From department topics to household state and village alerts.

``streams.core`` is pure (no Faust, no Kafka); ``streams.app`` wires it to topics and tables.
"""
