"""The one refusal type of the village queue: the workflow, the store, campaigns, plans and forms
raise it; the web server maps its code to an HTTP status in one place (``screening.http``).

Nothing was changed when it is raised. ``code`` is stable (the API's ``error`` field and the
refusal metric's label); ``zh`` is what the officer reads, saying why and what to do next.
"""

from __future__ import annotations


class Refusal(Exception):
    def __init__(self, code: str, zh: str) -> None:
        super().__init__(f"{code}: {zh}")
        self.code = code
        self.zh = zh


class NotFound(Refusal):
    """No such clue, campaign, plan or household."""

    def __init__(self, zh: str) -> None:
        super().__init__("not_found", zh)


class ScopeError(Refusal):
    """Outside the account's area: refused, never shown as an empty result."""

    def __init__(self, zh: str) -> None:
        super().__init__("out_of_scope", zh)
