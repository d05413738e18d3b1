"""The early-warning rule catalogue (YAML data) and its evaluation with durable_rules.

- ``catalogue/*.yaml``  one file per department plus household-level rules, each rule with examples
- ``params/*.yaml``     thresholds by region and effective date
- ``schema``            what a rule file may say, checked with file:line errors
- ``facts``             the flat fact a rule sees: event + household context + parameters
- ``compile``           rule conditions → durable_rules JSON (conditions are data, never ``eval``)
- ``engine``            durable_rules through its C API: every matching rule fires, bounded memory
- ``reference``         an independent evaluator of the same YAML, for differential tests
"""
