"""A known history of `sign_off` (review -> gateway -> countersign 会签) for the analytics tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from engine.data.models import (
    AdminGrant,
    ApprovalItem,
    Department,
    HistoryEntry,
    Person,
    ProcessDefinition,
    ProcessInstance,
    ProcessVersion,
    WorkTask,
)

BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI"
  xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" xmlns:di="http://www.omg.org/spec/DD/20100524/DI" id="d" targetNamespace="t">
  <process id="sign_off" isExecutable="true">
    <startEvent id="start"/><userTask id="review" name="Review"/><exclusiveGateway id="ok"/>
    <userTask id="countersign" name="Countersign"/><endEvent id="approved_end"/><endEvent id="rejected_end"/>
    <sequenceFlow id="f1" sourceRef="start" targetRef="review"/><sequenceFlow id="f2" sourceRef="review" targetRef="ok"/>
    <sequenceFlow id="f3" sourceRef="ok" targetRef="countersign"/><sequenceFlow id="f4" sourceRef="ok" targetRef="rejected_end"/>
    <sequenceFlow id="f5" sourceRef="countersign" targetRef="approved_end"/>
  </process>
  <bpmndi:BPMNDiagram id="dg"><bpmndi:BPMNPlane id="pl" bpmnElement="sign_off">
    <bpmndi:BPMNShape id="s_start" bpmnElement="start"><dc:Bounds x="20" y="40" width="36" height="36"/></bpmndi:BPMNShape>
    <bpmndi:BPMNShape id="s_review" bpmnElement="review"><dc:Bounds x="90" y="18" width="100" height="80"/></bpmndi:BPMNShape>
    <bpmndi:BPMNShape id="s_ok" bpmnElement="ok"><dc:Bounds x="230" y="33" width="50" height="50"/></bpmndi:BPMNShape>
    <bpmndi:BPMNShape id="s_cs" bpmnElement="countersign"><dc:Bounds x="320" y="18" width="100" height="80"/></bpmndi:BPMNShape>
    <bpmndi:BPMNShape id="s_end" bpmnElement="approved_end"><dc:Bounds x="460" y="40" width="36" height="36"/></bpmndi:BPMNShape>
    <bpmndi:BPMNShape id="s_rej" bpmnElement="rejected_end"><dc:Bounds x="237" y="140" width="36" height="36"/></bpmndi:BPMNShape>
    <bpmndi:BPMNEdge id="e1" bpmnElement="f1"><di:waypoint x="56" y="58"/><di:waypoint x="90" y="58"/></bpmndi:BPMNEdge>
    <bpmndi:BPMNEdge id="e2" bpmnElement="f2"><di:waypoint x="190" y="58"/><di:waypoint x="230" y="58"/></bpmndi:BPMNEdge>
    <bpmndi:BPMNEdge id="e3" bpmnElement="f3"><di:waypoint x="280" y="58"/><di:waypoint x="320" y="58"/></bpmndi:BPMNEdge>
    <bpmndi:BPMNEdge id="e4" bpmnElement="f4"><di:waypoint x="255" y="83"/><di:waypoint x="255" y="140"/></bpmndi:BPMNEdge>
    <bpmndi:BPMNEdge id="e5" bpmnElement="f5"><di:waypoint x="420" y="58"/><di:waypoint x="460" y="58"/></bpmndi:BPMNEdge>
  </bpmndi:BPMNPlane></bpmndi:BPMNDiagram>
</definitions>"""

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
NOW = T0 + timedelta(days=3)
H = 3600


def _instance(session, iid, started, status="running", ended=None, end_event=None, initiator="zhang"):
    session.add(ProcessInstance(id=iid, version_id=1, process_key="sign_off", status=status, initiator=initiator,
                                state="{}", created_at=started, updated_at=started, ended_at=ended,
                                end_event=end_event))
    session.flush()
    session.add(HistoryEntry(instance_id=iid, at=started, actor=initiator, action="started"))


def _task(session, tid, iid, element, entered, left=None, by=None, status=None, assignee=None, due=None):
    session.add(WorkTask(id=tid, instance_id=iid, element_id=element, assignee=assignee or by, due_at=due,
                         status=status or ("completed" if left else "open"), completed_by=by,
                         created_at=entered, completed_at=left))
    session.flush()


def build(sessions, password_hash: str | None = None) -> None:
    """Five instances of `sign_off` (review -> gateway -> countersign 会签):
    1 approved (review 1 h, countersign 4 h), 2 rejected at the countersign (review 3 h, countersign 8 h),
    3 waiting at the countersign since T0+2d+2h (due T0+2d+4h), 4 withdrawn at review, 5 waiting at review."""
    with sessions.begin() as s:
        s.add_all([Department(id=1, code="rd", name="研发部", name_en="R&D", path="/1/"),
                   Department(id=2, code="hr", name="人事部", name_en="HR", path="/2/")])
        s.flush()
        s.add_all([Person(username=u, name=n, name_en=e, department_id=d, password_hash=password_hash)
                   for u, n, e, d in [("li", "李", "Li", 1), ("zhang", "张", "Zhang", 1), ("wang", "王", "Wang", 1),
                                      ("hu", "胡", "Hu", 2), ("admin", "管理员", "Admin", None)]])
        s.flush()
        s.add(AdminGrant(person_id=s.query(Person.id).filter_by(username="admin").scalar(), department_id=None))
        s.add(ProcessDefinition(id=1, key="sign_off", name={"zh": "会签", "en": "Sign-off"}, category="admin"))
        s.add(ProcessDefinition(id=2, key="other", name={"zh": "其他", "en": "Other"}, category="hr"))
        s.flush()
        s.add(ProcessVersion(id=1, definition_id=1, number=1, process_id="sign_off", checksum="x",
                             package={"meta": {"admins": ["wang"], "names": {
                                 "review": {"zh": "审核", "en": "Review"},
                                 "countersign": {"zh": "会签", "en": "Countersign"}}}}, bpmn={"sign_off.bpmn": BPMN},
                             spec_json="{}"))
        s.add(ProcessVersion(id=2, definition_id=2, number=1, process_id="other", checksum="y",
                             package={"meta": {}}, bpmn={}, spec_json="{}"))
        s.flush()
        _instance(s, 1, T0, "completed", T0 + timedelta(hours=5), "approved_end")
        _instance(s, 2, T0 + timedelta(days=1), "completed", T0 + timedelta(days=1, hours=11), "rejected_end",
                  initiator="hu")
        _instance(s, 3, T0 + timedelta(days=2))
        _instance(s, 4, T0 + timedelta(days=2), "cancelled", T0 + timedelta(days=2, hours=1))
        _instance(s, 5, T0 + timedelta(days=2, hours=1))
        s.flush()
        _task(s, "r1", 1, "review", T0, T0 + timedelta(hours=1), "li", due=T0 + timedelta(hours=2))
        _task(s, "c1", 1, "countersign", T0 + timedelta(hours=1), T0 + timedelta(hours=5), "wang")
        d2 = T0 + timedelta(days=1)
        _task(s, "r2", 2, "review", d2, d2 + timedelta(hours=3), "li")
        _task(s, "c2", 2, "countersign", d2 + timedelta(hours=3), d2 + timedelta(hours=11), "wang",
              due=d2 + timedelta(hours=4))
        d3 = T0 + timedelta(days=2)
        _task(s, "r3", 3, "review", d3, d3 + timedelta(hours=2), "li")
        _task(s, "c3", 3, "countersign", d3 + timedelta(hours=2), assignee="wang", due=d3 + timedelta(hours=4))
        _task(s, "r4", 4, "review", d3, d3 + timedelta(hours=1), status="cancelled", assignee="li")
        _task(s, "r5", 5, "review", d3 + timedelta(hours=1), assignee="li")
        s.flush()
        for task, iid, signer, status in [("c1", 1, "zhang", "approved"), ("c1", 1, "wang", "approved"),
                                          ("c2", 2, "zhang", "approved"), ("c2", 2, "wang", "rejected"),
                                          ("c3", 3, "zhang", "approved"), ("c3", 3, "wang", "open")]:
            s.add(ApprovalItem(id=f"{task}-{signer}", task_id=task, instance_id=iid, signer=signer, position=0,
                               status=status))
        s.add(HistoryEntry(instance_id=4, at=d3 + timedelta(hours=1), actor="zhang", action="withdrawn"))


