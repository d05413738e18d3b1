"""Accounts and login sessions of the village queue. Passwords and session tokens are stored only as
hashes (``screening.auth``); every answer to a failed login is the same."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from dixian.contract.vocabulary import Role
from screening import auth
from screening.auth import Actor
from screening.db import Database, Row

SESSION_HOURS = 12
LOCK_AFTER = 5  # wrong passwords in a row
LOCK_MINUTES = 15


class Accounts:
    def __init__(self, db: Database, now: Callable[[], datetime]) -> None:
        self.db = db
        self.now = now

    def _ts(self) -> str:
        return self.now().isoformat(timespec="seconds")

    def add(self, username: str, role: str, scope: str, password: str, display_name: str = "") -> None:
        r = auth.validate_account(username, role, scope)
        hashed = auth.hash_password(password)
        with self.db.transaction():
            if self.db.one("SELECT username FROM accounts WHERE username = ?", (username,)):
                raise ValueError(f"account {username!r} already exists (use `dixian users passwd`)")
            self.db.execute(
                "INSERT INTO accounts (username, display_name, role, scope, password_hash, disabled,"
                " created_at) VALUES (?, ?, ?, ?, ?, 0, ?)",
                (username, display_name or username, r.value, scope, hashed, self._ts()),
            )

    def set_password(self, username: str, password: str) -> None:
        hashed = auth.hash_password(password)
        with self.db.transaction():
            if not self.db.execute(
                "UPDATE accounts SET password_hash = ? WHERE username = ?", (hashed, username)
            ):
                raise ValueError(f"no account {username!r}")
            self.db.execute("DELETE FROM sessions WHERE username = ?", (username,))

    def set_disabled(self, username: str, disabled: bool) -> None:
        with self.db.transaction():
            if not self.db.execute(
                "UPDATE accounts SET disabled = ? WHERE username = ?", (int(disabled), username)
            ):
                raise ValueError(f"no account {username!r}")
            if disabled:
                self.db.execute("DELETE FROM sessions WHERE username = ?", (username,))

    def all(self) -> list[Row]:
        return self.db.query(
            "SELECT username, display_name, role, scope, disabled, created_at FROM accounts ORDER BY username"
        )

    def login(self, username: str, password: str) -> str | None:
        """A new session token, or None (unknown account, wrong password, disabled or locked: one
        answer). After ``LOCK_AFTER`` wrong passwords in a row the account is locked for
        ``LOCK_MINUTES``, even for the right password."""
        row = self.db.one(
            "SELECT password_hash, disabled, failed_logins, locked_until FROM accounts WHERE username = ?",
            (username,),
        )
        ok = auth.verify_password(password, row["password_hash"] if row else auth.DUMMY_HASH)
        now = self.now()
        ts = now.isoformat(timespec="seconds")
        if row is None:
            return None
        if row["locked_until"] and row["locked_until"] > ts:
            return None
        if not ok or row["disabled"]:
            failures = int(row["failed_logins"]) + (0 if ok else 1)
            locked = (now + timedelta(minutes=LOCK_MINUTES)).isoformat(timespec="seconds")
            with self.db.transaction():
                self.db.execute(
                    "UPDATE accounts SET failed_logins = ?, locked_until = ? WHERE username = ?",
                    (
                        0 if failures >= LOCK_AFTER else failures,
                        locked if failures >= LOCK_AFTER else None,
                        username,
                    ),
                )
            return None
        token, hashed = auth.new_token()
        with self.db.transaction():
            self.db.execute(
                "UPDATE accounts SET failed_logins = 0, locked_until = NULL WHERE username = ?", (username,)
            )
            self.db.execute("DELETE FROM sessions WHERE expires_at < ?", (ts,))
            self.db.execute(
                "INSERT INTO sessions (token_hash, username, created_at, expires_at) VALUES (?, ?, ?, ?)",
                (hashed, username, ts, (now + timedelta(hours=SESSION_HOURS)).isoformat(timespec="seconds")),
            )
        return token

    def logout(self, token: str) -> None:
        with self.db.transaction():
            self.db.execute("DELETE FROM sessions WHERE token_hash = ?", (auth.token_hash(token),))

    def actor(self, token: str) -> Actor | None:
        row = self.db.one(
            "SELECT a.username, a.display_name, a.role, a.scope FROM sessions s"
            " JOIN accounts a ON a.username = s.username"
            " WHERE s.token_hash = ? AND s.expires_at > ? AND a.disabled = 0",
            (auth.token_hash(token), self._ts()),
        )
        if row is None:
            return None
        return Actor(row["username"], row["display_name"], Role(row["role"]), row["scope"])
