"""Accounts and login sessions of the village queue. Passwords and session tokens are stored only as
hashes (``screening.auth``); every answer to a failed login is the same."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from dixian.contract.vocabulary import Role
from screening import auth
from screening.audit import Audit, AuditAction, cli_user
from screening.auth import Actor
from screening.db import Database, Row

SESSION_HOURS = 12
LOCK_AFTER = 5  # wrong passwords in a row
LOCK_MINUTES = 15


class Accounts:
    def __init__(self, db: Database, now: Callable[[], datetime], audit: Audit) -> None:
        self.db = db
        self.now = now
        self.audit = audit

    def _ts(self) -> str:
        return self.now().isoformat(timespec="seconds")

    def add(
        self, username: str, role: str, scope: str, password: str, display_name: str = "", *, by: str = ""
    ) -> None:
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
            self.audit.record(by or cli_user(), AuditAction.ACCOUNT_ADDED, username, f"{r.zh} {scope}")

    def set_password(self, username: str, password: str, *, by: str = "") -> None:
        hashed = auth.hash_password(password)
        with self.db.transaction():
            if not self.db.execute(
                "UPDATE accounts SET password_hash = ? WHERE username = ?", (hashed, username)
            ):
                raise ValueError(f"no account {username!r}")
            self.db.execute("DELETE FROM sessions WHERE username = ?", (username,))
            self.audit.record(by or cli_user(), AuditAction.PASSWORD_SET, username)

    def set_disabled(self, username: str, disabled: bool, *, by: str = "") -> None:
        with self.db.transaction():
            if not self.db.execute(
                "UPDATE accounts SET disabled = ? WHERE username = ?", (int(disabled), username)
            ):
                raise ValueError(f"no account {username!r}")
            if disabled:
                self.db.execute("DELETE FROM sessions WHERE username = ?", (username,))
            action = AuditAction.ACCOUNT_DISABLED if disabled else AuditAction.ACCOUNT_ENABLED
            self.audit.record(by or cli_user(), action, username)

    def all(self) -> list[Row]:
        return self.db.query(
            "SELECT username, display_name, role, scope, disabled, created_at FROM accounts ORDER BY username"
        )

    def login(self, username: str, password: str, client: str = "") -> str | None:
        """A new session token, or None (unknown account, wrong password, disabled or locked: one
        answer). After ``LOCK_AFTER`` wrong passwords in a row the account is locked for
        ``LOCK_MINUTES``, even for the right password. Every attempt is audited (``client``: the
        caller's address); the audit says why one failed, the caller is never told."""
        token = self._login(username, password, client)
        if token is not None:
            self.audit.record(username, AuditAction.LOGIN, client=client)
        return token

    def _failed(self, username: str, why: str, client: str) -> None:
        self.audit.record(username, AuditAction.LOGIN_FAILED, detail=why, client=client)

    def _login(self, username: str, password: str, client: str = "") -> str | None:
        row = self.db.one(
            "SELECT password_hash, disabled, failed_logins, locked_until FROM accounts WHERE username = ?",
            (username,),
        )
        ok = auth.verify_password(password, row["password_hash"] if row else auth.DUMMY_HASH)
        now = self.now()
        ts = now.isoformat(timespec="seconds")
        if row is None:
            self._failed("", "没有这个账号（所填账号名不记录）", client)
            return None
        if row["locked_until"] and row["locked_until"] > ts:
            self._failed(username, "账号已临时锁定", client)
            return None
        if not ok or row["disabled"]:
            self._failed(username, "账号已停用" if row["disabled"] else "密码错误", client)
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

    def logout(self, token: str, client: str = "") -> None:
        with self.db.transaction():
            row = self.db.one("SELECT username FROM sessions WHERE token_hash = ?", (auth.token_hash(token),))
            self.db.execute("DELETE FROM sessions WHERE token_hash = ?", (auth.token_hash(token),))
            if row:
                self.audit.record(row["username"], AuditAction.LOGOUT, client=client)

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
