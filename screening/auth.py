"""Accounts, roles and scopes; passwords and session tokens are stored only as hashes.

A scope is an area code prefix: a village officer's 12-digit village code, a township reviewer's
9-digit township code, a county approver's 6-digit county code, the city operator's 4-digit city
code. Village codes are hierarchical (county 6 + township 3 + village 3), so "is this clue mine" is
"does its village code start with my scope".
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from dixian.contract.vocabulary import SCOPE_DIGITS, Role
from screening.refusal import NotFound, ScopeError

_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
USERNAME = re.compile(r"[a-z0-9][a-z0-9_.-]{2,39}")


@dataclass(frozen=True)
class Actor:
    username: str
    display_name: str
    role: Role
    scope: str

    def covers(self, village_code: str) -> bool:
        return village_code.startswith(self.scope)

    def check(self, village_code: str) -> None:
        if not self.covers(village_code):
            raise ScopeError(f"无权访问：村 {village_code} 不在您的管辖范围（{self.role.zh} {self.scope}）内")

    def check_record(self, village_code: str, unknown: str) -> None:
        """A record (clue, household, plan) outside the scope is answered exactly as an unknown id
        is: the same refusal and message, so a refusal tells nothing about what exists elsewhere."""
        if not self.covers(village_code):
            raise NotFound(unknown)

    def check_area(self, code: str) -> None:
        """A notice or list for an area (village or county code) must lie inside the scope."""
        if not code.startswith(self.scope):
            raise ScopeError(f"无权访问：{code} 不在您的管辖范围（{self.role.zh} {self.scope}）内")


def validate_account(username: str, role: str, scope: str) -> Role:
    if not USERNAME.fullmatch(username):
        raise ValueError("username: 3-40 lower-case letters, digits, '_', '.', '-' (no personal ID numbers)")
    try:
        r = Role(role)
    except ValueError:
        raise ValueError(f"role must be one of {', '.join(x.value for x in Role)}") from None
    digits = SCOPE_DIGITS[r]
    if not (scope.isdigit() and len(scope) == digits):
        raise ValueError(f"a {r.value} account's scope is a {digits}-digit area code, got {scope!r}")
    return r


def hash_password(password: str) -> str:
    if len(password) < 8:
        raise ValueError("password: at least 8 characters")
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    b64 = base64.b64encode
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if kind != "scrypt":
        return False
    got = hashlib.scrypt(
        password.encode(), salt=base64.b64decode(salt), dklen=32, n=int(n), r=int(r), p=int(p)
    )
    return hmac.compare_digest(got, base64.b64decode(digest))


# A password check costs the same whether or not the account exists (no user enumeration by timing).
DUMMY_HASH = "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="


def new_token() -> tuple[str, str]:
    """A session token and the hash stored for it."""
    token = secrets.token_urlsafe(32)
    return token, token_hash(token)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_token(session_token: str) -> str:
    """Bound to the session: a form posted from another site cannot know it."""
    return hashlib.sha256(b"csrf|" + session_token.encode()).hexdigest()[:32]
