"""Drafts: saved, listed newest first, resumed and deleted by their owner only."""

from __future__ import annotations

import pytest

from engine.errors import NotFoundError
from engine.work import drafts


def _save(sessions, username="zhang", key="leave_request", data=None, draft_id=None):
    with sessions() as session, session.begin():
        return drafts.save_draft(session, username, key, data or {"days": ["2"]}, draft_id)


def test_saved_draft_keeps_the_raw_post_without_token_or_button(sessions):
    saved = _save(sessions, data={"days": ["abc"], "reason": "家里有事", "csrf_token": ["t"], "action": ["draft"]})
    with sessions() as session:
        draft = drafts.get_draft(session, "zhang", saved.id)
    assert draft.process_key == "leave_request"
    assert draft.data == {"days": ["abc"], "reason": ["家里有事"]}  # not validated: "abc" is kept


def test_saving_again_updates_the_same_draft_and_lists_newest_first(sessions):
    first = _save(sessions, data={"days": ["1"]})
    second = _save(sessions, key="expense", data={"amount": ["3"]})
    updated = _save(sessions, data={"days": ["5"]}, draft_id=first.id)
    assert updated.id == first.id and updated.updated_at >= second.updated_at
    with sessions() as session:
        listed = drafts.list_drafts(session, "zhang")
        assert [d.id for d in listed] == [first.id, second.id]
        assert listed[0].data == {"days": ["5"]}
        assert drafts.list_drafts(session, "li") == []


def test_someone_elses_draft_is_not_found(sessions):
    saved = _save(sessions)
    with sessions() as session, pytest.raises(NotFoundError):
        drafts.get_draft(session, "li", saved.id)
    with pytest.raises(NotFoundError), sessions() as session, session.begin():
        drafts.save_draft(session, "li", "leave_request", {"days": ["9"]}, saved.id)
    with pytest.raises(NotFoundError), sessions() as session, session.begin():
        drafts.delete_draft(session, "li", saved.id)
    with sessions() as session:
        assert drafts.get_draft(session, "zhang", saved.id).data == {"days": ["2"]}


def test_deleted_draft_is_gone(sessions):
    saved = _save(sessions)
    with sessions() as session, session.begin():
        drafts.delete_draft(session, "zhang", saved.id)
    with sessions() as session, pytest.raises(NotFoundError):
        drafts.get_draft(session, "zhang", saved.id)


def test_oversized_draft_is_refused_and_nothing_saved(sessions):
    with pytest.raises(drafts.DraftTooLargeError), sessions() as session, session.begin():
        drafts.save_draft(session, "zhang", "leave_request", {"reason": ["x" * (drafts.MAX_DRAFT_BYTES + 1)]})
    with sessions() as session:
        assert drafts.list_drafts(session, "zhang") == []
