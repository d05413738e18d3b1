"""The OpenAPI 3.1 description of ``/api/v1``, served at ``/api/openapi.json``.

A test checks that every API route of the server is described here and nothing else, so the two
cannot drift apart.
"""

from __future__ import annotations

from typing import Any

from dixian.contract.vocabulary import ClueSource, ClueState, Decision, MonitoringCategory, Proposal, Severity
from screening.workflow import ACTION_RULE

_ERR = {"$ref": "#/components/schemas/Error"}


def _resp(desc: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"description": desc}
    if schema is not None:
        out["content"] = {"application/json": {"schema": schema}}
    return out


_ERRORS = {
    "400": _resp("请求有误：字段、取值或格式（message 说明哪一项）/ a bad request, the field named", _ERR),
    "401": _resp("未登录或令牌过期 / not authenticated", _ERR),
    "403": _resp("超出管辖范围或角色不符 / outside the caller's area or wrong role", _ERR),
    "404": _resp("线索不存在 / no such clue", _ERR),
    "409": _resp("环节不符、已办结或刚被他人处理 / out of order, closed, or changed meanwhile", _ERR),
}
_CLUE_ID = {"name": "clue_id", "in": "path", "required": True, "schema": {"type": "string"}}

SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "dixian 村级自查队列 API",
        "version": "1",
        "description": (
            "预警线索的查询、入户走访、核实结论与逐级审核。先 POST /api/v1/login 取得令牌，之后每个请求带 "
            "`Authorization: Bearer <token>`。每个账号只能查看和办理其管辖范围内的线索；范围外返回 403。\n\n"
            "Clues for village officers, the identification workflow and its reviews. "
            "Log in for a bearer token; every call is checked against the account's role and area "
            "(403 outside it)."
        ),
    },
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Error": {
                "type": "object",
                "required": ["error", "message"],
                "properties": {
                    "error": {"type": "string", "description": "machine-readable code"},
                    "message": {"type": "string", "description": "中文说明，说明原因和下一步"},
                },
            },
            "Clue": {
                "type": "object",
                "properties": {
                    "asset_result": {"type": ["string", "null"], "enum": ["passed", "failed", None]},
                    "asset_checked_on": {"type": ["string", "null"], "format": "date"},
                    "asset_reason": {"type": ["string", "null"]},
                    "asset_found": {"type": ["string", "null"]},
                    "clue_id": {"type": "string"},
                    "source": {
                        "type": "string",
                        "enum": [s.value for s in ClueSource],
                    },
                    "household_id": {"type": "string"},
                    "village_code": {"type": "string", "pattern": "^[0-9]{12}$"},
                    "rule_id": {"type": ["string", "null"]},
                    "title": {"type": "string"},
                    "explanation": {"type": "string"},
                    "risk_label": {"type": "string"},
                    "severity": {"type": "string", "enum": [s.value for s in Severity]},
                    "state": {"type": "string", "enum": [s.value for s in ClueState]},
                    "proposal": {"type": ["string", "null"], "enum": [*(p.value for p in Proposal), None]},
                    "outcome": {"type": ["string", "null"]},
                    "visit_by": {"type": "string", "format": "date"},
                    "decide_by": {"type": "string", "format": "date"},
                    "overdue": {"type": "boolean"},
                    "deadline": {"type": "string", "description": "期限提示，如“走访剩 2 天”"},
                    "items": {"type": "integer", "description": "本户风险项数（一户一条线索）"},
                    "new_risk": {"type": "boolean", "description": "走访后又收到新的风险"},
                    "monitored_risk": {"type": "boolean", "description": "监测对象新增风险"},
                    "risk_items": {
                        "type": "array",
                        "description": "详情：本户的每项风险（每次规则命中或其他来源）",
                        "items": {"$ref": "#/components/schemas/RiskItem"},
                    },
                },
            },
            "RiskItem": {
                "type": "object",
                "properties": {
                    "item_id": {"type": "string"},
                    "source": {"type": "string", "enum": [s.value for s in ClueSource]},
                    "rule_id": {"type": ["string", "null"]},
                    "department": {"type": ["string", "null"]},
                    "title": {"type": "string"},
                    "risk_label": {"type": "string"},
                    "severity": {"type": "string", "enum": [s.value for s in Severity]},
                    "hits": {"type": "integer"},
                    "item_date": {"type": "string", "format": "date"},
                    "after_visit": {"type": "boolean"},
                },
            },
            "ActionRequest": {
                "type": "object",
                "required": ["action"],
                "properties": {
                    "action": {"type": "string", "enum": [a.value for a in ACTION_RULE]},
                    "note": {"type": "string", "maxLength": 500, "description": "走访情况、理由或审核意见"},
                    "visited_on": {"type": "string", "format": "date", "description": "visit: 走访日期"},
                    "visit_mode": {
                        "type": "string",
                        "enum": ["home", "phone", "wechat"],
                        "description": "visit: 入户 / 电话 / 微信（线上走访须说明原因，之后补充入户核实）",
                    },
                    "team": {
                        "type": "array",
                        "items": {"type": "string"},
                        "maxItems": 2,
                        "description": "visit: 排查工作组两人姓名",
                    },
                    "proposal": {
                        "type": "string",
                        "enum": [p.value for p in Proposal],
                        "description": "conclude",
                    },
                    "category": {
                        "type": "string",
                        "enum": [c.value for c in MonitoringCategory],
                        "description": "conclude include",
                    },
                    "decision": {
                        "type": "string",
                        "enum": [d.value for d in Decision],
                        "description": "reviews",
                    },
                },
            },
        },
    },
    "security": [{"bearer": []}],
    "paths": {
        "/api/v1/login": {
            "post": {
                "summary": "登录，取得令牌 / log in",
                "security": [],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["username", "password"],
                                "properties": {
                                    "username": {"type": "string"},
                                    "password": {"type": "string"},
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "200": _resp(
                        "令牌（12 小时有效）",
                        {
                            "type": "object",
                            "properties": {
                                "token": {"type": "string"},
                                "role": {"type": "string"},
                                "scope": {"type": "string"},
                            },
                        },
                    ),
                    "400": _ERRORS["400"],
                    "401": _resp("账号或密码不正确（或账号暂时锁定）", _ERR),
                },
            }
        },
        "/api/v1/logout": {
            "post": {"summary": "注销令牌 / log out", "responses": {"200": _resp("ok"), **_ERRORS}}
        },
        "/api/v1/me": {
            "get": {"summary": "当前账号 / who am I", "responses": {"200": _resp("account"), **_ERRORS}}
        },
        "/api/v1/clues": {
            "get": {
                "summary": "线索队列（按紧急程度排序）/ the queue, most urgent first",
                "parameters": [
                    {
                        "name": "view",
                        "in": "query",
                        "schema": {"type": "string", "enum": ["todo", "all", "closed"], "default": "todo"},
                    },
                    {
                        "name": "village",
                        "in": "query",
                        "description": "乡镇(9位)或村(12位)代码",
                        "schema": {"type": "string", "pattern": "^[0-9]{9}([0-9]{3})?$"},
                    },
                    {
                        "name": "state",
                        "in": "query",
                        "schema": {"type": "string", "enum": [s.value for s in ClueState]},
                    },
                    {
                        "name": "source",
                        "in": "query",
                        "schema": {"type": "string", "enum": [s.value for s in ClueSource]},
                    },
                    {
                        "name": "risk",
                        "in": "query",
                        "description": "风险类型，如 因病",
                        "schema": {"type": "string"},
                    },
                    {
                        "name": "q",
                        "in": "query",
                        "description": "户编号或户主姓名（或其开头）",
                        "schema": {"type": "string"},
                    },
                    {"name": "overdue", "in": "query", "schema": {"type": "boolean", "default": False}},
                    {
                        "name": "page",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "default": 1},
                    },
                    {
                        "name": "size",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
                    },
                ],
                "responses": {
                    "200": _resp(
                        "clues",
                        {
                            "type": "object",
                            "properties": {
                                "clues": {"type": "array", "items": {"$ref": "#/components/schemas/Clue"}}
                            },
                        },
                    ),
                    **_ERRORS,
                },
            }
        },
        "/api/v1/clues/{clue_id}": {
            "get": {
                "summary": "线索详情、触发数据与办理记录 / one clue with its evidence and steps",
                "parameters": [_CLUE_ID],
                "responses": {"200": _resp("clue", {"$ref": "#/components/schemas/Clue"}), **_ERRORS},
            }
        },
        "/api/v1/clues/{clue_id}/actions": {
            "post": {
                "summary": "办理一个环节 / take one workflow step",
                "parameters": [_CLUE_ID],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/ActionRequest"}}
                    },
                },
                "responses": {
                    "200": _resp("the clue after the step", {"$ref": "#/components/schemas/Clue"}),
                    "400": _resp("缺少理由、类别等 / a required field is missing or invalid", _ERR),
                    "409": _resp("环节不对或已办结 / the clue is not at the step this action needs", _ERR),
                    **_ERRORS,
                },
            }
        },
        "/api/v1/villages/{village_code}/notice": {
            "get": {
                "summary": "村级公示名单（无身份证号、电话、账号、健康信息）/ public notice",
                "parameters": [
                    {"name": "village_code", "in": "path", "required": True, "schema": {"type": "string"}},
                ],
                "responses": {"200": _resp("households in notice"), **_ERRORS},
            }
        },
        "/api/v1/counties/{county_code}/asset-check": {
            "get": {
                "summary": "需财产检索名单（拟纳入且非低保、特困）/ households needing an asset check",
                "parameters": [
                    {"name": "county_code", "in": "path", "required": True, "schema": {"type": "string"}},
                    {"name": "format", "in": "query", "schema": {"type": "string", "enum": ["json", "xlsx"]}},
                ],
                "responses": {"200": _resp("households (JSON or XLSX)"), **_ERRORS},
            }
        },
        "/api/openapi.json": {
            "get": {
                "summary": "本说明 / this description",
                "security": [],
                "responses": {"200": _resp("spec")},
            }
        },
        "/api/docs": {
            "get": {
                "summary": "本说明（网页）/ this description as a page",
                "security": [],
                "responses": {"200": _resp("page")},
            }
        },
    },
}


_CAMPAIGN_ID = {"name": "campaign_id", "in": "path", "required": True, "schema": {"type": "string"}}
_OBJ: dict[str, Any] = {"type": "object"}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


SPEC["paths"]["/api/v1/clues"]["post"] = {
    "summary": "登记农户申请或干部排查线索（村级账号，认定期限15天）/ record a clue",
    "requestBody": _body(
        {
            "type": "object",
            "required": ["household_id", "source", "note"],
            "properties": {
                "household_id": {"type": "string"},
                "source": {"type": "string", "enum": ["application", "cadre"]},
                "note": {"type": "string", "minLength": 2, "maxLength": 500},
                "authorisation_signed": {"type": "boolean", "description": "已签财产检索授权书"},
            },
        }
    ),
    "responses": {
        "201": _resp("created", {"$ref": "#/components/schemas/Clue"}),
        "200": _resp("already recorded today (same household and source)"),
        **_ERRORS,
    },
}
SPEC["paths"]["/api/v1/clues/{clue_id}/in-person"] = {
    "post": {
        "summary": "补充入户核实（线上走访之后）/ the home visit that follows a phone or WeChat visit",
        "parameters": [_CLUE_ID],
        "requestBody": _body(
            {
                "type": "object",
                "required": ["visited_on", "note"],
                "additionalProperties": False,
                "properties": {
                    "visited_on": {"type": "string", "format": "date"},
                    "note": {"type": "string", "description": "入户核实的情况"},
                    "team": {"type": "array", "items": {"type": "string"}, "maxItems": 2},
                },
            }
        ),
        "responses": {"200": _resp("recorded", {"$ref": "#/components/schemas/Clue"}), **_ERRORS},
    }
}
SPEC["paths"]["/api/v1/clues/{clue_id}/notification"] = {
    "post": {
        "summary": "登记入户告知（县级审定后，村级）/ record that the household was told of the decision",
        "parameters": [_CLUE_ID],
        "requestBody": _body(
            {
                "type": "object",
                "required": ["notified_on", "method"],
                "additionalProperties": False,
                "properties": {
                    "notified_on": {"type": "string", "format": "date"},
                    "method": {"type": "string", "enum": ["visit", "phone", "letter"]},
                    "note": {"type": "string"},
                },
            }
        ),
        "responses": {"200": _resp("recorded", {"$ref": "#/components/schemas/Clue"}), **_ERRORS},
    }
}
SPEC["paths"]["/api/v1/clues/{clue_id}/asset-check"] = {
    "post": {
        "summary": "登记财产检索结果（县级，拟纳入的农户）/ record the county's asset-check result",
        "parameters": [_CLUE_ID],
        "requestBody": _body(
            {
                "type": "object",
                "required": ["result", "checked_on"],
                "additionalProperties": False,
                "properties": {
                    "result": {"type": "string", "enum": ["passed", "failed"]},
                    "checked_on": {"type": "string", "format": "date"},
                    "reason": {"type": "string", "maxLength": 500, "description": "未通过的原因"},
                    "found": {"type": "string", "maxLength": 500, "description": "查到的财产"},
                },
            }
        ),
        "responses": {"200": _resp("recorded", {"$ref": "#/components/schemas/Clue"}), **_ERRORS},
    }
}
_CORRECTIONS = _resp(
    "the clue's correction items",
    {
        "type": "object",
        "properties": {
            "clue_id": {"type": "string"},
            "corrections": {"type": "array", "items": {"type": "object"}},
        },
    },
)
SPEC["paths"]["/api/v1/clues/{clue_id}/corrections"] = {
    "post": {
        "summary": "登记账实不符（村级，走访后）/ record what a visit found that the ledger holds otherwise",
        "parameters": [_CLUE_ID],
        "requestBody": _body(
            {
                "type": "object",
                "required": ["field", "recorded", "found", "evidence"],
                "additionalProperties": False,
                "properties": {
                    "field": {
                        "type": "string",
                        "enum": ["members", "id_number", "category", "income", "other"],
                    },
                    "recorded": {"type": "string", "maxLength": 300, "description": "系统登记值"},
                    "found": {"type": "string", "maxLength": 300, "description": "核实值"},
                    "evidence": {"type": "string", "maxLength": 300, "description": "佐证材料或依据"},
                },
            }
        ),
        "responses": {"200": _CORRECTIONS, **_ERRORS},
    }
}
SPEC["paths"]["/api/v1/clues/{clue_id}/corrections/{seq}"] = {
    "post": {
        "summary": "登记已在全国系统更正（县级）/ record that the item was corrected in the national system",
        "parameters": [
            _CLUE_ID,
            {"name": "seq", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}},
        ],
        "requestBody": _body(
            {
                "type": "object",
                "required": ["corrected_on"],
                "additionalProperties": False,
                "properties": {"corrected_on": {"type": "string", "format": "date"}},
            }
        ),
        "responses": {"200": _CORRECTIONS, **_ERRORS},
    }
}
SPEC["paths"]["/api/v1/counties/{county_code}/corrections"] = {
    "get": {
        "summary": "县级账实不符更正清单（?format=xlsx 导出）/ the county's correction list",
        "parameters": [
            {"name": "county_code", "in": "path", "required": True, "schema": {"type": "string"}},
            {
                "name": "status",
                "in": "query",
                "required": False,
                "schema": {"type": "string", "enum": ["open", "corrected"]},
            },
            {
                "name": "format",
                "in": "query",
                "required": False,
                "schema": {"type": "string", "enum": ["json", "xlsx"]},
            },
        ],
        "responses": {"200": _resp("the county's correction items"), **_ERRORS},
    }
}
SPEC["paths"]["/api/v1/notifications"] = {
    "get": {
        "summary": "辖区内待入户告知的审定结果（超期标注）/ decisions not told to the household yet",
        "responses": {"200": _resp("unnotified"), **_ERRORS},
    }
}
SPEC["paths"]["/api/v1/counties/{county_code}/announcement"] = {
    "get": {
        "summary": "县级审定公告（不含户编号、身份证号、致贫原因）/ the county's announcement",
        "parameters": [
            {"name": "county_code", "in": "path", "required": True, "schema": {"type": "string"}},
            {
                "name": "from",
                "in": "query",
                "required": False,
                "schema": {"type": "string", "format": "date"},
            },
            {"name": "to", "in": "query", "required": False, "schema": {"type": "string", "format": "date"}},
        ],
        "responses": {"200": _resp("announcement"), **_ERRORS},
    }
}
SPEC["paths"]["/api/v1/clues/{clue_id}/measures"] = {
    "post": {
        "summary": "登记帮扶措施（纳入监测的农户）/ add a measure to the household's assistance plan",
        "parameters": [_CLUE_ID],
        "requestBody": _body(
            {
                "type": "object",
                "required": ["group", "description", "start_on"],
                "properties": {
                    "group": {"type": "string", "description": "screening/forms.yaml measure_groups"},
                    "description": {"type": "string"},
                    "start_on": {"type": "string", "format": "date"},
                    "end_on": {"type": "string", "format": "date"},
                },
            }
        ),
        "responses": {"201": _resp("recorded"), **_ERRORS},
    }
}
SPEC["paths"]["/api/v1/clues/{clue_id}/measures/{seq}"] = {
    "post": {
        "summary": "更新或结项帮扶措施（村级）/ update a running measure, or close it with its result",
        "parameters": [
            _CLUE_ID,
            {"name": "seq", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}},
        ],
        "requestBody": _body(
            {
                "type": "object",
                "required": ["status"],
                "additionalProperties": False,
                "properties": {
                    "status": {
                        "type": "string",
                        "enum": ["active", "done", "stopped"],
                        "description": (
                            "active 实施中（修改内容或计划结束日期）；"
                            "done 已完成、stopped 已终止（结项，须填 result）"
                        ),
                    },
                    "description": {"type": "string"},
                    "end_on": {"type": "string", "format": "date"},
                    "result": {"type": "string", "description": "帮扶成效（已完成）或终止原因（已终止）"},
                    "closed_on": {"type": "string", "format": "date", "description": "结项日期，默认今天"},
                },
            }
        ),
        "responses": {"200": _resp("updated"), **_ERRORS},
    }
}
SPEC["paths"]["/api/v1/plans"] = {
    "get": {
        "summary": "辖区内帮扶计划及预警（超期、无开发式措施）/ plans in the caller's area",
        "responses": {"200": _resp("plans"), **_ERRORS},
    }
}
SPEC["paths"]["/api/v1/audit"] = {
    "get": {
        "summary": "审计日志（仅市级运维）：登录、登录失败、账号变更、导出、报表 / the audit log (operators)",
        "parameters": [
            {
                "name": "before",
                "in": "query",
                "required": False,
                "schema": {"type": "string", "maxLength": 64},
            },
            {
                "name": "limit",
                "in": "query",
                "required": False,
                "schema": {"type": "integer", "minimum": 1, "maximum": 1000},
            },
        ],
        "responses": {"200": _resp("entries, newest first"), **_ERRORS},
    }
}
SPEC["paths"]["/api/v1/campaigns"] = {
    "get": {
        "summary": "集中排查活动 / screening campaigns",
        "responses": {"200": _resp("campaigns"), **_ERRORS},
    },
    "post": {
        "summary": "发起集中排查（市、县账号）：为范围内每户生成一条入户任务 / start a campaign",
        "requestBody": _body(
            {
                "type": "object",
                "required": ["name", "scope", "from", "to", "kinds"],
                "properties": {
                    "name": {"type": "string"},
                    "scope": {
                        "type": "array",
                        "items": {"type": "string", "pattern": "^[0-9]{4}([0-9]{2})?$"},
                    },
                    "from": {"type": "string", "format": "date"},
                    "to": {"type": "string", "format": "date"},
                    "kinds": {
                        "type": "array",
                        "items": {"type": "string", "enum": ["ordinary", "formerly_poor", "monitored"]},
                    },
                },
            }
        ),
        "responses": {"201": _resp("campaign"), **_ERRORS},
    },
}
SPEC["paths"]["/api/v1/campaigns/{campaign_id}/coverage"] = {
    "get": {
        "summary": "排查进度（应走访、已走访、逾期）/ coverage by county, township, village, team or site",
        "parameters": [
            _CAMPAIGN_ID,
            {
                "name": "level",
                "in": "query",
                "schema": {"type": "string", "enum": ["county", "township", "village", "team", "site"]},
            },
        ],
        "responses": {"200": _resp("areas"), **_ERRORS},
    }
}
SPEC["paths"]["/api/v1/campaigns/{campaign_id}/lookback"] = {
    "get": {
        "summary": "回头看名单：结论被退回或被后来的部门数据推翻 / the look-back list",
        "parameters": [_CAMPAIGN_ID],
        "responses": {"200": _resp("households"), **_ERRORS},
    }
}
SPEC["paths"]["/api/v1/applications"] = {
    "post": {
        "summary": "农户网上申请（无需登录；户编号须与行政村一致）/ a household's own application",
        "security": [],
        "requestBody": _body(
            {
                "type": "object",
                "required": ["village_code", "household_id", "description", "consent"],
                "properties": {
                    "village_code": {"type": "string"},
                    "household_id": {"type": "string"},
                    "description": {"type": "string"},
                    "consent": {"type": "boolean", "const": True},
                },
            }
        ),
        "responses": {
            "201": _resp("received"),
            "400": _resp("户编号与行政村不匹配", _ERR),
            "429": _resp("too many"),
        },
    }
}


# ---- the plan's task list and rectification items (screening.tasks) --------------------------------
_TASK_ID = {"name": "task_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
_RECT_ID = {"name": "rect_id", "in": "path", "required": True, "schema": {"type": "string"}}
SPEC["paths"]["/api/v1/tasks"] = {
    "get": {
        "summary": "重点任务清单调度（县级：本县；市级：全部）/ the task list with each unit's progress",
        "responses": {"200": _resp("tasks", {"type": "object"}), **_ERRORS},
    }
}
SPEC["paths"]["/api/v1/tasks/{task_id}/progress"] = {
    "post": {
        "summary": "报送重点任务月度进展（月调度）/ a responsible unit's monthly progress report",
        "parameters": [_TASK_ID],
        "requestBody": _body(
            {
                "type": "object",
                "required": ["month", "status", "progress"],
                "additionalProperties": False,
                "properties": {
                    "month": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"},
                    "status": {"type": "string", "enum": ["done", "on_track", "behind"]},
                    "progress": {"type": "string", "maxLength": 500},
                },
            }
        ),
        "responses": {"200": _resp("the task as it stands", {"type": "object"}), **_ERRORS},
    }
}
SPEC["paths"]["/api/v1/rectifications"] = {
    "get": {
        "summary": "督查暗访整改事项（超期标注）/ rectification items, overdue flagged",
        "parameters": [
            {
                "name": "status",
                "in": "query",
                "required": False,
                "schema": {"type": "string", "enum": ["open", "done"]},
            }
        ],
        "responses": {"200": _resp("items", {"type": "object"}), **_ERRORS},
    },
    "post": {
        "summary": "登记督查暗访发现的问题（市级）/ record a supervision finding as a rectification item",
        "requestBody": _body(
            {
                "type": "object",
                "required": ["county_code", "source", "found_on", "finding", "owner", "deadline"],
                "additionalProperties": False,
                "properties": {
                    "county_code": {"type": "string", "maxLength": 6},
                    "source": {"type": "string", "enum": ["supervision", "unannounced", "review"]},
                    "found_on": {"type": "string", "format": "date"},
                    "finding": {"type": "string", "maxLength": 500},
                    "owner": {"type": "string", "maxLength": 500},
                    "deadline": {"type": "string", "format": "date"},
                },
            }
        ),
        "responses": {"201": _resp("recorded", {"type": "object"}), **_ERRORS},
    },
}
SPEC["paths"]["/api/v1/rectifications/{rect_id}/close"] = {
    "post": {
        "summary": "报送整改完成情况（县级）/ the county's report of what it did",
        "parameters": [_RECT_ID],
        "requestBody": _body(
            {
                "type": "object",
                "required": ["result", "closed_on"],
                "additionalProperties": False,
                "properties": {
                    "result": {"type": "string", "maxLength": 500},
                    "closed_on": {"type": "string", "format": "date"},
                },
            }
        ),
        "responses": {"200": _resp("closed", {"type": "object"}), **_ERRORS},
    }
}
