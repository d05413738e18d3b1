"""Who may do what on a secured cluster: the Kafka principals and their ACLs, declared once.

Each dixian process authenticates as one SCRAM principal (``DIXIAN_KAFKA_USERNAME``). Every ACL is an
ALLOW; what no ACL allows is refused (the brokers run with ``allow.everyone.if.no.acl.found=false``).
``operator`` is a super user (topics, ACLs, users, reading anything for reports and repairs), as are
the brokers themselves (``dixian-broker``, authenticated by their TLS certificate).

- ``dept-<code>``: one department producing straight to Kafka writes its own ``dept.<code>`` topic,
  and nothing else (its bad records are dead-lettered by the workers, which validate every record).
- ``connectors``: the file ingest and the HTTP push server write every department topic, the roster
  and the dead letters of the rows they refuse.
- ``worker``: the Faust workers read the inputs, write alerts, dead letters and records forwarded to
  their partition (department topics), and own every topic under their app id (table changelogs,
  Faust's internal topics) and their consumer group.
- ``sink``: the queue store's loader reads alerts and the roster and writes the dead letters of records
  it refuses, in its own consumer group.
- ``web``: the village queue's web server publishes the workflow steps (its outbox) as conclusions.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from dixian.config import Settings
from dixian.contract import Dept
from dixian.topics import Topics

OPERATOR = "operator"
BROKER = "dixian-broker"  # the CN of the brokers' certificate (mutual TLS between brokers)
SUPER_USERS = (BROKER, OPERATOR)


class Op(StrEnum):
    READ = "READ"
    WRITE = "WRITE"
    CREATE = "CREATE"
    DESCRIBE = "DESCRIBE"
    DESCRIBE_CONFIGS = "DESCRIBE_CONFIGS"
    ALTER_CONFIGS = "ALTER_CONFIGS"


@dataclass(frozen=True, order=True, slots=True)
class Acl:
    principal: str  # the SCRAM user name, without "User:"
    operation: Op
    resource: str  # TOPIC or GROUP
    pattern: str  # LITERAL or PREFIXED
    name: str

    def line(self) -> str:
        """The form deploy/kafka/ClusterAdmin.java reads and prints."""
        return f"User:{self.principal} {self.operation} {self.resource} {self.pattern} {self.name}"


def dept_principal(dept: Dept) -> str:
    return f"dept-{dept.value}"


def principals() -> list[str]:
    """Every SCRAM user the cluster gets, the operator first."""
    return [OPERATOR, "connectors", "worker", "sink", "web", *(dept_principal(d) for d in Dept)]


def plan(settings: Settings) -> list[Acl]:
    """The ACLs of a deployment (topic prefix and worker app id from ``settings``), sorted."""
    t = Topics(settings)
    depts = [t.dept(d) for d in Dept]

    def topic(principal: str, ops: tuple[Op, ...], *names: str) -> list[Acl]:
        return [Acl(principal, op, "TOPIC", "LITERAL", n) for n in names for op in ops]

    def group(principal: str, name: str) -> Acl:
        return Acl(principal, Op.READ, "GROUP", "LITERAL", name)

    w, r = (Op.WRITE, Op.DESCRIBE), (Op.READ, Op.DESCRIBE)
    acls: list[Acl] = []
    for d in Dept:
        acls += topic(dept_principal(d), w, t.dept(d))
    acls += topic("connectors", w, *depts, t.households, t.dead_letter, t.feed_runs)
    acls += topic("worker", r, *depts, t.households, t.conclusions, t.rules_control)
    acls += topic("worker", w, *depts, t.alerts, t.dead_letter)
    owned = (Op.READ, Op.WRITE, Op.CREATE, Op.DESCRIBE, Op.DESCRIBE_CONFIGS, Op.ALTER_CONFIGS)
    acls += [Acl("worker", op, "TOPIC", "PREFIXED", f"{settings.worker_id}-") for op in owned]
    acls.append(group("worker", settings.worker_id))
    acls += topic("sink", r, t.alerts, t.households, t.feed_runs)
    acls += topic("sink", w, t.dead_letter)
    acls += topic("web", w, t.conclusions)
    acls.append(group("sink", f"{settings.worker_id}-screening-store"))
    return sorted(set(acls))
