"""底线 dixian: early warning against rural households relapsing into poverty.

Package map (imports point one way, top to bottom):

- ``dixian.contract``  typed department events and the household roster (pure pydantic)
- ``rules``            the rule catalogue (YAML data) and its durable_rules engine (pure)
- ``streams``          the pure pipeline core plus thin Faust glue and the embedded runner
- ``connectors``       file / HTTP ingestion and Kafka I/O
- ``dixian.cli``       the one command line, which parses and delegates
"""

__version__ = "0.1.0"
