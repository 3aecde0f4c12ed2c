"""Demo data of training assessment (`liaison demo`): the role `process_owners` (process owners of the
category `admin` in the designer), two courses, 信息安全培训 assigned to everyone with attempts of
most people already in, and 管理员培训 (a pass grants `process_owners`) assigned to li and wang.
Once: nothing happens when the first course exists.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine.data.models import DesignerGrant, Person, Role
from engine.data.training_models import TrainingCourse
from engine.training import assignments, attempts, courses

HR = ("hu", ("hr",), False)
GRANTED_ROLE = "process_owners"

SECURITY_QUIZ = [
    {"name": "password", "kind": "single", "points": 20, "answer": "12",
     "question": {"zh": "公司密码最少需要几位？", "en": "How long must a company password be at least?"},
     "options": [{"value": "6", "label": "6"}, {"value": "8", "label": "8"}, {"value": "12", "label": "12"}]},
    {"name": "phishing", "kind": "multiple", "points": 20, "answer": ["sender", "link"],
     "question": {"zh": "哪些是钓鱼邮件的迹象？", "en": "Which are signs of a phishing e-mail?"},
     "options": [{"value": "sender", "label": {"zh": "陌生的发件人地址", "en": "An unknown sender address"}},
                 {"value": "link", "label": {"zh": "要求点击链接登录", "en": "A link asking you to sign in"}},
                 {"value": "logo", "label": {"zh": "有公司标志", "en": "It has the company logo"}}]},
    {"name": "sharing", "kind": "true_false", "points": 20, "answer": False,
     "question": {"zh": "可以把账号借给同事使用。", "en": "You may lend your account to a colleague."}},
    {"name": "report", "kind": "short_answer", "points": 20, "answer": ["IT", "信息部", "IT部"],
     "question": {"zh": "发现可疑邮件应报告给哪个部门？", "en": "Which department do you report a suspicious e-mail to?"}},
    {"name": "lock", "kind": "single", "points": 20, "answer": "win_l",
     "question": {"zh": "离开座位时锁屏的快捷键是？", "en": "Which shortcut locks the screen when you leave?"},
     "options": [{"value": "win_l", "label": "Win + L"}, {"value": "ctrl_c", "label": "Ctrl + C"}]},
]
ADMIN_QUIZ = [
    {"name": "deploy", "kind": "true_false", "points": 25, "answer": True,
     "question": {"zh": "发布新版本不会改变正在运行的流程实例。", "en": "Deploying a new version leaves running instances as they are."}},
    {"name": "tests", "kind": "single", "points": 25, "answer": "liaison_test",
     "question": {"zh": "发布前用哪个命令运行场景测试？", "en": "Which command runs the scenario tests before deploying?"},
     "options": [{"value": "liaison_test", "label": "liaison test"}, {"value": "liaison_run", "label": "liaison run"}]},
    {"name": "forms", "kind": "multiple", "points": 25, "answer": ["zh", "en"],
     "question": {"zh": "表单标签需要哪些语言？", "en": "Which languages do form labels need?"},
     "options": [{"value": "zh", "label": {"zh": "中文", "en": "Chinese"}},
                 {"value": "en", "label": {"zh": "英文", "en": "English"}},
                 {"value": "fr", "label": {"zh": "法文", "en": "French"}}]},
    {"name": "timer", "kind": "short_answer", "points": 25, "answer": ["PT48H", "\"PT48H\""],
     "question": {"zh": "48 小时的 ISO 8601 时长怎么写？", "en": "How is 48 hours written as an ISO 8601 duration?"}},
]
RIGHT = {"password": "12", "phishing": ["sender", "link"], "sharing": "false", "report": "IT", "lock": "win_l"}
WRONG = {"password": "8", "phishing": ["sender", "logo"], "sharing": "true", "report": "HR", "lock": "ctrl_c"}


def _role(session: Session) -> None:
    if session.scalar(select(Role.id).where(Role.key == GRANTED_ROLE)) is None:
        session.add(Role(key=GRANTED_ROLE, name="流程管理员", name_en="Process owners"))
        session.add(DesignerGrant(category="admin", role_key=GRANTED_ROLE, can_edit=True, can_deploy=True,
                                  can_migrate=False, created_by="demo"))


def load_demo(sessions: sessionmaker[Session]) -> str:
    """The demo courses, assignments and attempts; a line saying what was done."""
    with sessions() as session, session.begin():
        if session.scalar(select(TrainingCourse.id).where(TrainingCourse.title == "信息安全培训")) is not None:
            return "demo training: exists"
        if session.scalar(select(Person.id).where(Person.username == "hu")) is None:
            return "demo training: no HR person (hu)"
        _role(session)
        security = courses.save_course(session, "hu", ("hr",), False, courses.CourseInput(
            title="信息安全培训", title_en="Information security basics", quiz=SECURITY_QUIZ, attempt_limit=3,
            description="识别钓鱼邮件、保管好密码与账号、离开座位时锁屏。",
            description_en="Spot phishing, keep passwords and accounts to yourself, lock the screen when away.",
            links=[{"label": "信息安全制度 / Security policy", "url": "https://intranet.example.com/security"}]))
        admin = courses.save_course(session, "hu", ("hr",), False, courses.CourseInput(
            title="管理员培训", title_en="Administrator training", quiz=ADMIN_QUIZ, attempt_limit=2,
            grant_role=GRANTED_ROLE, description="通过后获得“流程管理员”角色，可在设计器中编辑和发布行政类流程。",
            description_en="A pass grants the role Process owners: edit and deploy the admin processes."))
        everyone = list(session.scalars(select(Person.username).where(Person.active, Person.username != "admin")))
    assignments.assign(sessions, *HR, security, usernames=everyone)
    assignments.assign(sessions, *HR, admin, usernames=["li", "wang"])
    taken = _attempts(sessions, [u for u in everyone if u not in ("zhang", "wang")], security)
    return f"demo training: 2 courses, {len(everyone)} people assigned, {taken} attempts"


def _attempts(sessions, usernames: list[str], course_id: int) -> int:
    """Most people have taken the security quiz: each answers a different number of questions right;
    a failed first attempt is retaken once."""
    taken = 0
    with sessions() as session:
        mine = {a.username: a.id for a, _c in
                (row for u in usernames for row in assignments.my_assignments(session, u)) if a.course_id == course_id}
    for index, username in enumerate(usernames[: max(1, len(usernames) * 4 // 5)]):
        for attempt in range(2):
            right = (index + attempt * 2) % 6
            names = list(RIGHT)[index % 5:] + list(RIGHT)[: index % 5]
            answers = {name: (RIGHT if k < right else WRONG)[name] for k, name in enumerate(names)}
            outcome = attempts.submit_attempt(sessions, username, (), mine[username], answers)
            taken += 1
            if outcome.passed:
                break
    return taken
