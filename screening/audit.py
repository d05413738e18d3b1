"""The audit log: sign-ins and failed sign-ins, sign-outs, account changes, exports and downloads —
who (the account, or ``cli:<user>`` for the command line), when, what, from which address. City
operators read it (page ``/audit``, ``GET /api/v1/audit``); nobody edits it.

A failed sign-in on a name that is no account records no name: people type ID numbers and passwords
into that field. Free text is masked like every other note (``dixian.privacy``).
"""

from __future__ import annotations

import getpass
import secrets
import time
from collections.abc import Callable
from datetime import datetime

from dixian.contract.vocabulary import Labelled, Role
from dixian.privacy import mask_free_text
from screening.auth import Actor
from screening.db import Database, Row
from screening.refusal import ScopeError


class AuditAction(Labelled):
    LOGIN = "login", "登录"
    LOGIN_FAILED = "login_failed", "登录失败"
    LOGOUT = "logout", "退出登录"
    ACCOUNT_ADDED = "account_added", "新建账号"
    PASSWORD_SET = "password_set", "重设密码"
    ACCOUNT_DISABLED = "account_disabled", "停用账号"
    ACCOUNT_ENABLED = "account_enabled", "启用账号"
    EXPORT = "export", "导出"
    REPORT = "report", "生成报表"


def cli_user() -> str:
    """Who runs a command line: ``cli:<operating-system user>``."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


class Audit:
    def __init__(self, db: Database, now: Callable[[], datetime]) -> None:
        self.db = db
        self.now = now

    def record(
        self, username: str, action: AuditAction, target: str = "", detail: str = "", client: str = ""
    ) -> None:
        at = self.now().isoformat(timespec="seconds")
        # ordered by the wall clock in ns (the store's clock may be a demo's, standing still)
        entry_id = f"{time.time_ns():020d}-{secrets.token_hex(3)}"
        self.db.execute(
            "INSERT INTO audit (entry_id, at, username, action, target, detail, client)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                entry_id, at, username[:80], action.value, target[:200],
                mask_free_text(detail)[:500], client[:64],
            ),
        )  # fmt: skip

    def entries(self, actor: Actor, *, limit: int = 200, before: str | None = None) -> list[Row]:
        """The latest entries, newest first (``before``: an ``entry_id`` to page back from)."""
        if actor.role != Role.OPERATOR:
            raise ScopeError("审计日志仅市级运维账号可以查看")
        sql, params = "SELECT * FROM audit", []
        if before:
            sql, params = sql + " WHERE entry_id < ?", [before]
        rows = self.db.query(sql + " ORDER BY entry_id DESC LIMIT ?", (*params, limit))
        return [r | {"action_zh": AuditAction(r["action"]).zh} for r in rows]
