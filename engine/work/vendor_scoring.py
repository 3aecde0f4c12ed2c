"""Vendor selection (供应商评选, processes/vendor_selection): the score sheet of one scorer, the ranking,
and the buyer's recommendation. The web pages and any other caller use these functions alone.

A request's start data holds `criteria` (name, weight; weights total 100: the form's check) and
`vendors` (name). Each scorer's task of the parallel multi-instance `score` node is completed through
`submit_scores`, which keeps that scorer's scores (0 to 100 per vendor and criterion) in `vendor_score`
and then completes the task. A vendor's weighted total for one scorer is sum(weight * score) / 100, so
it is on the 0-100 scale too; its result is the mean of those totals over the scorers who scored
(`ranking`). Vendors are ranked by that mean, highest first; equal means share a rank (1, 1, 3).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from engine import runtime
from engine.data import store
from engine.data.models import ProcessInstance, WorkTask
from engine.data.vendor_models import VendorScore
from engine.errors import InvalidTaskDataError, NotFoundError, NotPermittedError, msg
from engine.runtime.outcome import outcomes
from engine.work.pages import may_act_on_task, may_view_instance
from engine.work.queries import get_task  # noqa: F401 - the pages read tasks through this module

PROCESS = "vendor_selection"
SCORE_NODE = "score"
RECOMMEND_NODE = "recommend"
MAX_SCORE = 100
_CENT = Decimal("0.01")


class ScoreSheetError(InvalidTaskDataError):
    """A score sheet was refused; `errors` maps cells (`v0c1`: vendor 0, criterion 1) to messages; nothing
    was saved."""

    form = "score sheet"  # what the CLI's error line names

    def __init__(self, errors: dict[str, list]):
        self.errors = errors
        super().__init__(msg("the score sheet has %(n)s cells to correct", n=len(errors)))


@dataclass(frozen=True)
class Setup:
    """What is scored: the criteria with their weights and the candidate vendors, in their order."""

    title: str
    criteria: list[tuple[str, int]]
    vendors: list[str]
    scorers: list[str]
    initiator: str | None


@dataclass
class RankedVendor:
    """One vendor's result: the mean weighted total over the scorers, its rank, and the mean score per
    criterion (None where nobody scored it)."""

    index: int
    name: str
    total: Decimal | None
    rank: int | None
    per_criterion: list[Decimal | None]


@dataclass
class Ranking:
    """The ranking of a selection, best first, and who has scored so far."""

    setup: Setup
    vendors: list[RankedVendor]
    scored_by: list[str]
    waiting_for: list[str] = field(default_factory=list)

    @property
    def chart_labels(self) -> list[str]:
        """The vendors' names in ranking order (the chart's categories)."""
        return [v.name for v in self.vendors]

    @property
    def chart_values(self) -> list[float]:
        """The vendors' mean weighted totals in ranking order (0 where nobody scored yet)."""
        return [float(v.total) if v.total is not None else 0.0 for v in self.vendors]


def setup_of(session: Session, instance_id: int) -> Setup:
    """The criteria, vendors and scorers of a vendor selection; NotFoundError for any other instance."""
    instance = session.get(ProcessInstance, instance_id)
    if instance is None or instance.process_key != PROCESS:
        raise NotFoundError(f"no vendor selection {instance_id}")
    data = store.read_process_data(session, instance_id)
    criteria = [(str(c.get("name") or ""), int(c.get("weight") or 0)) for c in data.get("criteria") or []]
    vendors = [str(v.get("name") or "") for v in data.get("vendors") or []]
    scorers = list(data.get("scorers") or [])
    return Setup(str(data.get("title") or ""), criteria, vendors, scorers, instance.initiator)


def _round(value: Decimal) -> Decimal:
    return value.quantize(_CENT, rounding=ROUND_HALF_UP)


def ranking(session: Session, instance_id: int) -> Ranking:
    """The vendors ranked by their weighted totals averaged over the scorers who scored (one query for the
    scores). A scorer's total for a vendor is sum(weight * score) / 100 over the criteria."""
    setup = setup_of(session, instance_id)
    rows = session.execute(select(VendorScore.scorer, VendorScore.vendor, VendorScore.criterion, VendorScore.score)
                           .where(VendorScore.instance_id == instance_id)).all()
    scores: dict[str, dict[tuple[int, int], int]] = {}
    for scorer, vendor, criterion, score in rows:
        scores.setdefault(scorer, {})[(vendor, criterion)] = score
    scored_by = sorted(scores)
    ranked = [_vendor_result(setup, index, name, scores) for index, name in enumerate(setup.vendors)]
    ranked.sort(key=lambda v: (v.total is None, -(v.total or 0), v.index))
    previous = None
    for position, vendor in enumerate(ranked, start=1):
        if vendor.total is None:
            continue
        vendor.rank = previous.rank if previous is not None and previous.total == vendor.total else position
        previous = vendor
    waiting = [s for s in setup.scorers if s not in scores]
    return Ranking(setup, ranked, scored_by, waiting)


def _vendor_result(setup: Setup, index: int, name: str, scores: dict[str, dict]) -> RankedVendor:
    totals = []
    for sheet in scores.values():
        cells = [sheet.get((index, c)) for c in range(len(setup.criteria))]
        if None not in cells:
            totals.append(sum(Decimal(weight) * score for (_, weight), score in zip(setup.criteria, cells,
                                                                                     strict=True)) / 100)
    per_criterion = []
    for c in range(len(setup.criteria)):
        given = [sheet[(index, c)] for sheet in scores.values() if (index, c) in sheet]
        per_criterion.append(_round(Decimal(sum(given)) / len(given)) if given else None)
    total = _round(sum(totals) / len(totals)) if totals else None
    return RankedVendor(index, name, total, None, per_criterion)


def sheet_of(session: Session, task_id: str, username: str, groups: tuple[str, ...] = ()) -> dict:
    """A scorer's score sheet: the task, the setup, the scores already saved (`{(vendor, criterion):
    score}`) and whether this person may submit it now. NotFoundError for a task that is no score task."""
    task = get_task(session, task_id)
    if task.process_key != PROCESS or task.element_id != SCORE_NODE:
        raise NotFoundError(f"no score sheet for task {task_id}")
    setup = setup_of(session, task.instance_id)
    scorer = task.assignee or username
    saved = {(v, c): s for v, c, s in session.execute(
        select(VendorScore.vendor, VendorScore.criterion, VendorScore.score)
        .where(VendorScore.instance_id == task.instance_id, VendorScore.scorer == scorer))}
    may_act = task.status == "open" and may_act_on_task(task, username, groups)
    return {"task": task, "setup": setup, "saved": saved, "may_act": may_act, "scorer": scorer}


def check_scores(setup: Setup, cells: dict[str, Any]) -> dict[tuple[int, int], int]:
    """Every vendor x criterion cell (`v0c1` -> text or number) as an integer 0-100; ScoreSheetError naming
    each missing or wrong cell otherwise."""
    errors: dict[str, list] = {}
    scores = {}
    for v in range(len(setup.vendors)):
        for c in range(len(setup.criteria)):
            key = f"v{v}c{c}"
            raw = cells.get(key)
            text = str(raw).strip() if raw is not None else ""
            if not text:
                errors[key] = [msg("Give a score from 0 to %(max)s.", max=MAX_SCORE)]
                continue
            try:
                value = Decimal(text)
            except ArithmeticError:
                value = None
            if value is None or not value.is_finite() or value != value.to_integral_value() \
                    or not 0 <= value <= MAX_SCORE:
                errors[key] = [msg("A score is a whole number from 0 to %(max)s.", max=MAX_SCORE)]
                continue
            scores[(v, c)] = int(value)
    if errors:
        raise ScoreSheetError(errors)
    return scores


def submit_scores(sessions: sessionmaker[Session], task_id: str, username: str, cells: dict[str, Any],
                  groups: tuple[str, ...] = (), comment: str | None = None, lang: str = "en"):
    """Check a scorer's sheet, keep it (replacing what they saved before) and complete their score task.

    A refused sheet saves nothing. The scores are written before the task is completed, so a completion
    that fails (someone else completed it meanwhile) leaves the sheet saved and the task as it was; a
    second submission replaces the sheet."""
    with sessions() as session:
        sheet = sheet_of(session, task_id, username, groups)
    if not sheet["may_act"]:
        raise NotPermittedError(msg("This score sheet is not yours to fill in now."))
    scores = check_scores(sheet["setup"], cells)
    instance_id, scorer = sheet["task"].instance_id, sheet["scorer"]
    with sessions() as session, session.begin():
        session.execute(delete(VendorScore).where(VendorScore.instance_id == instance_id,
                                                  VendorScore.scorer == scorer))
        session.add_all(VendorScore(instance_id=instance_id, scorer=scorer, vendor=v, criterion=c, score=s)
                        for (v, c), s in sorted(scores.items()))
    return runtime.complete_task(sessions, task_id, username, {"scored": True}, groups, comment=comment, lang=lang)


def open_tasks(session: Session, instance_id: int, element_id: str) -> list[WorkTask]:
    """The instance's open tasks at `element_id` (one per scorer at the score node), oldest first."""
    return list(session.scalars(select(WorkTask).where(WorkTask.instance_id == instance_id,
                                                       WorkTask.element_id == element_id,
                                                       WorkTask.status == "open").order_by(WorkTask.created_at)))


def open_task(session: Session, instance_id: int, element_id: str) -> WorkTask | None:
    """The instance's open task at `element_id`, if any (the recommendation the ranking page offers)."""
    return next(iter(open_tasks(session, instance_id, element_id)), None)


def recommend(sessions: sessionmaker[Session], task_id: str, username: str, vendor: Any, reason: str = "",
              groups: tuple[str, ...] = (), lang: str = "en"):
    """The buyer recommends candidate number `vendor` (its name goes to the manager's approval).
    InvalidTaskDataError when `vendor` is not one of the candidates; nothing is saved then."""
    with sessions() as session:
        task = get_task(session, task_id)
        if task.process_key != PROCESS or task.element_id != RECOMMEND_NODE:
            raise NotFoundError(f"no recommendation task {task_id}")
        setup = setup_of(session, task.instance_id)
    try:
        index = int(str(vendor))
    except ValueError:
        index = -1
    if not 0 <= index < len(setup.vendors):
        raise InvalidTaskDataError(msg("Pick one of the candidate vendors."))
    data = {"recommended": setup.vendors[index], "recommend_reason": (reason or "").strip()}
    return runtime.complete_task(sessions, task_id, username, data, groups, lang=lang)


def selections(session: Session, username: str, groups: tuple[str, ...] = (), is_super_admin: bool = False,
               limit: int = 50) -> list[dict]:
    """The vendor selections this person may see (`may_view_instance`, the pages' rule), newest first:
    id, title, status, outcome (`runtime.outcome`), initiator, created_at. One query for the candidates,
    one check per candidate."""
    rows = session.execute(select(ProcessInstance.id, ProcessInstance.status, ProcessInstance.initiator,
                                  ProcessInstance.created_at)
                           .where(ProcessInstance.process_key == PROCESS)
                           .order_by(ProcessInstance.id.desc()).limit(limit * 4)).all()
    found = []
    for row in rows:
        if len(found) >= limit:
            break
        if may_view_instance(session.connection(), row.id, username, groups, is_super_admin):
            title = store.read_process_data(session, row.id).get("title") or ""
            found.append({"id": row.id, "title": title, "status": row.status, "initiator": row.initiator,
                          "created_at": row.created_at})
    ended = outcomes(session, [r["id"] for r in found])
    for item in found:
        item["outcome"] = ended[item["id"]]
    return found
