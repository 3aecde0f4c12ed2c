"""The notification center (`/notifications`) and one's notification preferences (`/me/notifications`).

Opening a notification is a POST (a button per item, CSRF-checked like every form here): it marks
the person's own notification read and redirects to its link, but only when the link is a path on
this site (`engine.notification_center.safe_link`); any other link is shown as text and never
followed. Someone else's notification is a 404. The unread count for the navigation is queried
once per request and kept on `g`, like the inbox counts.
"""

from __future__ import annotations

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from engine.notify import center

from .auth import current_account
from .i18n import current_language

bp = Blueprint("notifications", __name__)

PER_PAGE = 20


def sessions():
    return current_app.extensions["liaison_sessions"]


def read_sessions():
    """Sessions for reads only (autocommit on PostgreSQL: no BEGIN / ROLLBACK round trips)."""
    return current_app.extensions["liaison_read_sessions"]


def _unread_only() -> bool:
    return request.values.get("unread") == "1"


def _list_url() -> str:
    return url_for(".index", unread="1") if _unread_only() else url_for(".index")


@bp.get("/notifications")
def index():
    """The person's notifications, newest first; `?unread=1` shows the unread ones only."""
    user = current_account()
    page_number = max(1, request.args.get("page", 1, type=int) or 1)
    with sessions()() as session:
        page = center.list_for(session, user.username, unread_only=_unread_only(), page=page_number,
                               per_page=PER_PAGE)
        unread = notification_unread(session)
    return render_template("notifications/index.html", page=page, unread=unread, unread_only=_unread_only(),
                           lang=current_language())


@bp.post("/notifications/<int:notification_id>/open")
def open_notification(notification_id: int):
    """Mark one's own notification read, then go to its link if it stays on this site, else back to the list."""
    username = current_account().username
    with sessions()() as session, session.begin():
        item = center.get(session, username, notification_id)  # someone else's: NotFoundError, 404
        center.mark_read(session, username, [item.id])
    return redirect(item.safe_link or _list_url())


@bp.post("/notifications/read-all")
def read_all():
    """Mark every notification of the person read."""
    with sessions()() as session, session.begin():
        count = center.mark_all_read(session, current_account().username)
    flash(_("Marked %(count)d notification(s) read.", count=count), "success")
    return redirect(_list_url())


@bp.route("/me/notifications", methods=["GET", "POST"])
def preferences():
    """Which events reach the person on which channel: a switch per channel and a checkbox per event.

    Changing a channel's switch sets all its events to the new value (so "off" means off); with the
    switch left as it was, each event box is saved as ticked, overriding the switch.
    """
    username = current_account().username
    with sessions()() as session, session.begin():
        if request.method == "POST":
            center.set_preferences(session, username, _posted_choices(request.form))
            flash(_("Notification settings saved."), "success")
            return redirect(url_for(".preferences"))
        prefs = center.preferences(session, username)
    return render_template("notifications/preferences.html", prefs=prefs, channels=center.CHANNELS,
                           events=center.EVENTS, channel_names=_channel_names(), lang=current_language(),
                           all_events=center.ALL_EVENTS, center_label=center.event_label)


def _posted_choices(form) -> dict[str, dict[str, bool]]:
    """{channel: {"*": bool, event: bool}} from the ticked boxes (`inapp:*`, `email:urged`, ...)."""
    choices = {}
    for channel in center.CHANNELS:
        master = form.get(f"{channel}:{center.ALL_EVENTS}") == "on"
        was = form.get(f"was:{channel}")
        if was in ("0", "1") and (was == "1") != master:  # the switch was flipped: every event follows it
            choices[channel] = {center.ALL_EVENTS: master}
        else:
            choices[channel] = {center.ALL_EVENTS: master,
                                **{event: form.get(f"{channel}:{event}") == "on" for event in center.EVENTS}}
    return choices


def _channel_names() -> dict[str, str]:
    return {"inapp": _("In the app"), "email": _("By e-mail")}


@bp.app_context_processor
def _navigation_unread():
    """`notification_unread` for the top bar."""
    return {"notification_unread": notification_unread}


def notification_unread(session=None) -> int:
    """The signed-in person's unread count, queried once per request however many places show it."""
    if "notification_unread" not in g:
        user = current_account()
        if user is None:
            return 0
        if session is None:
            with read_sessions()() as own:
                g.notification_unread = center.unread_count(own, user.username)
        else:
            g.notification_unread = center.unread_count(session, user.username)
    return g.notification_unread
