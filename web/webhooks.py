"""Webhook subscriptions in the browser (issue 13): a person's own under their menu (`/me/webhooks`, next
to `/me/tokens`) and everyone's for super admins (`/admin/webhooks`, admin index). Create (the HMAC
secret is shown once, on the answer page), send a test `ping` through the outbox, read the delivery log,
delete. The rules are `engine.runtime.api_webhooks`'s, as for `/api/v1/webhooks`."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectMultipleField, StringField, widgets
from wtforms.validators import URL, DataRequired, Length, Optional

from engine.errors import LiaisonError
from engine.people import org
from engine.runtime import api_webhooks

from .auth import current_account, require_super_admin
from .errors import translated
from .i18n import current_language

bp = Blueprint("webhooks", __name__)

EVENT_LABELS = {
    "instance.started": _l("a request was started"), "instance.completed": _l("a request ended"),
    "instance.withdrawn": _l("a request was withdrawn"), "instance.terminated": _l("a request was terminated"),
    "instance.cancelled": _l("a request was cancelled"), "task.created": _l("a task was offered (to you or your group)"),
    "task.assigned": _l("a task changed hands (claimed, transferred, delegated, a signer's turn...)"),
    "task.completed": _l("a task was completed"), "ping": _l("test delivery"),
}
SHOWN_DELIVERIES = 20


def sessions():
    return current_app.extensions["liaison_sessions"]


class WebhookForm(FlaskForm):
    url = StringField(_l("Receiver URL (http:// or https://)"),
                      validators=[DataRequired(), Length(max=api_webhooks.MAX_URL), URL(require_tld=False)])
    events = SelectMultipleField(_l("Events"), choices=[(e, e) for e in api_webhooks.EVENTS],
                                 default=["instance.completed"], validators=[DataRequired()],
                                 widget=widgets.ListWidget(prefix_label=False), option_widget=widgets.CheckboxInput())
    process_key = StringField(_l("Only this process (key, optional)"), validators=[Optional(), Length(max=100)])
    all_instances = BooleanField(_l("Every instance, not only those I take part in"))


def _owner(everyone: bool) -> str | None:
    """Whose subscriptions the page shows and changes: the signed-in person's, or (admin pages) anyone's."""
    return None if everyone else current_account().username


def _names(session, usernames) -> dict[str, str]:
    return org.display_names(session, set(usernames), current_language())


def _list(everyone: bool):
    form = WebhookForm()
    secret, status = None, 200
    if form.validate_on_submit():
        try:
            with sessions()() as session:
                _made, secret = api_webhooks.create_subscription(
                    session, current_account().username, form.url.data.strip(), form.events.data,
                    (form.process_key.data or "").strip() or None, everyone and form.all_instances.data)
            form = WebhookForm(formdata=None)
            status = 201
        except LiaisonError as exc:
            form.url.errors = [*form.url.errors, translated(exc)]
            status = 422
    elif form.is_submitted():
        status = 422
    with sessions()() as session:
        found = api_webhooks.list_subscriptions(session, _owner(everyone))
        names = _names(session, {s.owner for s in found})
    return render_template("me/webhooks.html", form=form, subscriptions=found, secret=secret, everyone=everyone,
                           names=names, labels=EVENT_LABELS), status


def _detail(everyone: bool, subscription_id: int):
    with sessions()() as session:
        subscription = api_webhooks.get_subscription(session, _owner(everyone), subscription_id)
        deliveries = api_webhooks.recent_deliveries(session, _owner(everyone), subscription_id, SHOWN_DELIVERIES)
        names = _names(session, {subscription.owner})
    return render_template("me/webhook.html", subscription=subscription, deliveries=deliveries, everyone=everyone,
                           names=names, labels=EVENT_LABELS, shown=SHOWN_DELIVERIES)


def _ping(everyone: bool, subscription_id: int, back: str):
    with sessions()() as session:
        api_webhooks.send_ping(session, _owner(everyone), subscription_id)
    flash(_("A test delivery is on its way; its state shows below."), "success")
    return redirect(url_for(back, subscription_id=subscription_id))


def _delete(everyone: bool, subscription_id: int, back: str):
    with sessions()() as session:
        api_webhooks.delete_subscription(session, _owner(everyone), subscription_id)
    flash(_("The webhook subscription was deleted."), "success")
    return redirect(url_for(back))


@bp.route("/me/webhooks", methods=["GET", "POST"])
def mine():
    """The person's subscriptions and a form making one; a made subscription's secret is on this answer only."""
    return _list(False)


@bp.get("/me/webhooks/<int:subscription_id>")
def mine_detail(subscription_id: int):
    """One of the person's subscriptions with its recent deliveries (another person's is a 404)."""
    return _detail(False, subscription_id)


@bp.post("/me/webhooks/<int:subscription_id>/ping")
def mine_ping(subscription_id: int):
    """Send a test `ping` through the outbox."""
    return _ping(False, subscription_id, ".mine_detail")


@bp.post("/me/webhooks/<int:subscription_id>/delete")
def mine_delete(subscription_id: int):
    """End one of the person's subscriptions."""
    return _delete(False, subscription_id, ".mine")


@bp.route("/admin/webhooks", methods=["GET", "POST"])
@require_super_admin
def everyone():
    """Every subscription, for super admins, who may also subscribe to every instance."""
    return _list(True)


@bp.get("/admin/webhooks/<int:subscription_id>")
@require_super_admin
def any_detail(subscription_id: int):
    """Any subscription with its recent deliveries."""
    return _detail(True, subscription_id)


@bp.post("/admin/webhooks/<int:subscription_id>/ping")
@require_super_admin
def any_ping(subscription_id: int):
    """A super admin sends a test `ping` to any subscription."""
    return _ping(True, subscription_id, ".any_detail")


@bp.post("/admin/webhooks/<int:subscription_id>/delete")
@require_super_admin
def any_delete(subscription_id: int):
    """A super admin ends any subscription."""
    return _delete(True, subscription_id, ".everyone")
