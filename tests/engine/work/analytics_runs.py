"""A known history made by REAL engine runs (issue 19): `sign_off` (review -> gateway -> 会签 countersign ->
gateway), started and completed through `engine.runtime` with the clock moved (`Clock`: every engine
module's `utcnow`), escalation timers fired through `engine.runtime.timers`, one request withdrawn.

    1  zhang (R&D) T0        review li +1 h (approve); countersign zhang +2 h, wang +5 h -> approved_end (5 h)
    2  hu (HR)     T0+1d     review escalated at +2 h, li +3 h; countersign zhang +4 h, wang rejects +11 h
                             -> cs_rejected (11 h)
    3  zhang       T0+2d     review li +2 h; countersign zhang +3 h, wang still open (waiting)
    4  zhang       T0+2d     withdrawn by zhang at +1 h (review open)
    5  zhang       T0+2d+1h  review open (li)
    6  hu          T0+2d     review li rejects at +1 h -> rejected_end (1 h)
NOW = T0+3d; li is out of office from NOW-1h to NOW+1d, deputy hu.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from engine import runtime
from engine.data.models import AdminGrant, Department, Person, Timer
from engine.people import org
from engine.runtime import operations, timers
from tests.engine.conftest import flow, write_package

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # a Monday
NOW = T0 + timedelta(days=3)
H = 3600

BODY = f"""
<bpmn:startEvent id="start"/>
<bpmn:userTask id="review" name="Review" liaison:assignee="li" liaison:escalateAfter="PT2H"
               liaison:dueDate="PT2H"/>
<bpmn:exclusiveGateway id="ok" default="f_no"/>
<bpmn:userTask id="countersign" name="Countersign" liaison:mode="all" liaison:candidateUsers="zhang,wang"
               liaison:dueDate="PT5H"/>
<bpmn:exclusiveGateway id="signed" default="f_cs_no"/>
<bpmn:endEvent id="approved_end"/>
<bpmn:endEvent id="rejected_end"/>
<bpmn:endEvent id="cs_rejected"/>
{flow("start", "review", flow_id="f_start")}{flow("review", "ok", flow_id="f_review")}
{flow("ok", "countersign", "approved == True", flow_id="f_yes")}
<bpmn:sequenceFlow id="f_no" sourceRef="ok" targetRef="rejected_end"/>
{flow("countersign", "signed", flow_id="f_cs")}{flow("signed", "approved_end", "approved == True", flow_id="f_cs_yes")}
<bpmn:sequenceFlow id="f_cs_no" sourceRef="signed" targetRef="cs_rejected"/>
"""
SHAPES = {"start": (20, 100, 36, 36), "review": (90, 78, 100, 80), "ok": (230, 93, 50, 50),
          "countersign": (320, 78, 100, 80), "signed": (460, 93, 50, 50), "approved_end": (560, 100, 36, 36),
          "rejected_end": (237, 200, 36, 36), "cs_rejected": (467, 200, 36, 36)}
EDGES = {"f_start": ((56, 118), (90, 118)), "f_review": ((190, 118), (230, 118)), "f_yes": ((280, 118), (320, 118)),
         "f_no": ((255, 143), (255, 200)), "f_cs": ((420, 118), (460, 118)), "f_cs_yes": ((510, 118), (560, 118)),
         "f_cs_no": ((485, 143), (485, 200))}
DIAGRAM = ('<bpmndi:BPMNDiagram id="dg"><bpmndi:BPMNPlane id="pl" bpmnElement="sign_off">'
           + "".join(f'<bpmndi:BPMNShape id="s_{e}" bpmnElement="{e}"><dc:Bounds x="{x}" y="{y}" width="{w}" '
                     f'height="{h}"/></bpmndi:BPMNShape>' for e, (x, y, w, h) in SHAPES.items())
           + "".join(f'<bpmndi:BPMNEdge id="e_{f}" bpmnElement="{f}"><di:waypoint x="{a[0]}" y="{a[1]}"/>'
                     f'<di:waypoint x="{b[0]}" y="{b[1]}"/></bpmndi:BPMNEdge>' for f, (a, b) in EDGES.items())
           + "</bpmndi:BPMNPlane></bpmndi:BPMNDiagram>")
NAMESPACES = ('xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" '
              'xmlns:di="http://www.omg.org/spec/DD/20100524/DI" xmlns:liaison=')
NAMES = {"start": {"zh": "提交", "en": "Submitted"}, "review": {"zh": "审核", "en": "Review"},
         "ok": {"zh": "审核通过？", "en": "Reviewed?"}, "countersign": {"zh": "会签", "en": "Countersign"},
         "signed": {"zh": "会签通过？", "en": "Signed?"}, "approved_end": {"zh": "已批准", "en": "Approved"},
         "rejected_end": {"zh": "审核驳回", "en": "Rejected at review"},
         "cs_rejected": {"zh": "会签驳回", "en": "Rejected at countersign"}}


class Clock:
    """The engine's clock held at a chosen time: every loaded `engine.*` module's `utcnow` replaced, and the
    `datetime.now` the diagram layer counts due dates from (`engine.bpmn.workflow`)."""

    def __init__(self, monkeypatch, at: datetime):
        from engine.bpmn import workflow
        from engine.data import models
        self.at, real, clock = at, models.utcnow, self
        for name, module in list(sys.modules.items()):
            if name.startswith("engine.") and getattr(module, "utcnow", None) is real:
                monkeypatch.setattr(module, "utcnow", lambda: self.at)

        class Moved(datetime):
            @classmethod
            def now(cls, tz=None):
                return clock.at.astimezone(tz) if tz else clock.at.replace(tzinfo=None)

        monkeypatch.setattr(workflow, "datetime", Moved)

    def set(self, at: datetime) -> None:
        self.at = at


def _people(sessions, password_hash: str | None) -> None:
    with sessions.begin() as s:
        s.add_all([Department(id=1, code="rd", name="研发部", name_en="R&D", path="/1/"),
                   Department(id=2, code="hr", name="人事部", name_en="HR", path="/2/")])
        s.flush()
        s.add_all([Person(username=u, name=n, name_en=e, department_id=d, password_hash=password_hash)
                   for u, n, e, d in [("li", "李", "Li", 1), ("zhang", "张", "Zhang", 1), ("wang", "王", "Wang", 1),
                                      ("hu", "胡", "Hu", 2), ("hradmin", "人事管理员", "HR admin", 2),
                                      ("admin", "管理员", "Admin", None)]])
        s.flush()
        ids = dict(s.execute(select(Person.username, Person.id)).all())
        s.add(AdminGrant(person_id=ids["admin"], department_id=None))
        s.add(AdminGrant(person_id=ids["hradmin"], department_id=2))


def _open_task(result, element: str) -> str:
    return next(t["id"] for t in result.open_tasks if t["element_id"] == element)


def _fire_escalation(sessions, clock: Clock, instance_id: int) -> None:
    with sessions() as s:
        timer = s.scalars(select(Timer).where(Timer.instance_id == instance_id, Timer.kind == "escalate")).one()
    clock.set(timer.due_at)
    assert timers.fire(sessions, timer.id, timer.due_at) == "fired"


def run(sessions, deploy_package, tmp_path, monkeypatch, password_hash: str | None = None) -> dict[int, int]:
    """Make the history above (people signing in with `password_hash`); returns {scenario number: instance id}."""
    _people(sessions, password_hash)
    folder = write_package(tmp_path, "sign_off", {"sign_off": BODY},
                           meta={"admins": ["wang"], "category": "admin", "names": NAMES})
    bpmn = folder / "sign_off.bpmn"  # with its diagram, for the heat map
    bpmn.write_text(bpmn.read_text().replace("xmlns:liaison=", NAMESPACES, 1)
                    .replace("</bpmn:definitions>", DIAGRAM + "</bpmn:definitions>"))
    deploy_package(folder)
    clock = Clock(monkeypatch, T0)
    ids = {}

    def at(day: int, hours: float) -> None:
        clock.set(T0 + timedelta(days=day, hours=hours))

    def act(result, element, user, approved, day, hours):
        at(day, hours)
        return runtime.complete_task(sessions, _open_task(result, element), user, {"approved": approved})

    at(0, 0)
    r = runtime.start_instance(sessions, "sign_off", {}, user="zhang")
    ids[1] = r.instance_id
    r = act(r, "review", "li", True, 0, 1)
    r = act(r, "countersign", "zhang", True, 0, 2)
    act(r, "countersign", "wang", True, 0, 5)

    at(1, 0)
    r = runtime.start_instance(sessions, "sign_off", {}, user="hu")
    ids[2] = r.instance_id
    _fire_escalation(sessions, clock, ids[2])
    r = act(r, "review", "li", True, 1, 3)
    r = act(r, "countersign", "zhang", True, 1, 4)
    act(r, "countersign", "wang", False, 1, 11)

    at(2, 0)
    r3 = runtime.start_instance(sessions, "sign_off", {}, user="zhang")
    r4 = runtime.start_instance(sessions, "sign_off", {}, user="zhang")
    r6 = runtime.start_instance(sessions, "sign_off", {}, user="hu")
    ids[3], ids[4], ids[6] = r3.instance_id, r4.instance_id, r6.instance_id
    at(2, 1)
    r5 = runtime.start_instance(sessions, "sign_off", {}, user="zhang")
    ids[5] = r5.instance_id
    operations.withdraw(sessions, ids[4], actor="zhang")
    act(r6, "review", "li", False, 2, 1)
    r3 = act(r3, "review", "li", True, 2, 2)
    act(r3, "countersign", "zhang", True, 2, 3)

    clock.set(NOW)
    with sessions.begin() as s:
        org.set_out_of_office(s, "li", "hu", NOW - timedelta(hours=1), NOW + timedelta(days=1))
    return ids
