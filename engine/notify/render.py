"""What an engine step notifies, to whom, rendered: the rows of the in-app and outbox channels.

The runtime calls `render_step` inside every step's transaction with the step's `Event`s; the rows
it returns are written by `store.write_step` with the step, so a notification exists exactly when
its step does. Delivery of the outbox rows (e-mail, webhooks) is `engine.delivery`.

Cost: no events, no query. With events, one statement for all of them together
(`recipients.look_up`, which the engine step runs itself, asking about out-of-office along): the
people (direct recipients, the actor, and the active members of the named groups, capped at
`GROUP_CAP` per event) and their preferences. Webhook endpoints are looked up by name only when
delivering. Each event is rendered at most once per language, whoever receives it.

Templates come from the package's `notifications/*.yaml` (format in docs/notifications.md); an
event the package does not define uses the built-in default (zh and en, in-app and e-mail).
Rendering runs in Jinja2's sandbox; a failing package template is logged and replaced by the
default, never breaking the step.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache, lru_cache
from zoneinfo import ZoneInfo

from jinja2 import TemplateError, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import escape
from sqlalchemy import Connection

from engine.config import Settings, load_settings
from engine.notify.center import is_enabled
from engine.notify.recipients import GROUP_CAP, Directory, Person, look_up
from engine.results import element_label, element_names

log = logging.getLogger(__name__)

EVENTS = ("task_assigned", "task_due_soon", "task_overdue", "urged", "cc", "returned",
          "approved", "rejected", "instance_finished", "external_link")
CHANNELS = ("inapp", "email", "webhook")
LANGUAGES = ("zh", "en")
DEFAULT_CHANNELS = ("inapp", "email")
INSTANCE_EVENTS = ("approved", "rejected", "instance_finished", "cc")  # link to the request, not the task
EVENT_KEYS = ("channels", "webhooks", "zh", "en")
TEMPLATE_KEYS = ("title", "text", "html")
MAX_TITLE = 500  # notification.title
MAX_LINK = 500  # notification.link
MAX_TEXT = 64 * 1024


@dataclass
class Event:
    """Something a step did that people (or robots) hear about."""

    kind: str  # one of EVENTS
    recipients: list[str] = ()  # usernames; may be empty for webhook-only events
    groups: list[str] = ()  # role keys: every active member is a recipient (GROUP_CAP at most)
    task: dict | None = None  # {"id", "element_id", "name", "due_at"} when about a task
    actor: str | None = None  # never notified of their own action
    comment: str | None = None
    # free values for templates (`extra`); "emails": outside addresses (e-mail only; in the default language,
    # or in "email_langs"[address] when given),
    # "link": a link to use instead of the task / instance page
    extra: dict = field(default_factory=dict)


@dataclass
class StepFacts:
    """What `render_step` needs to know about the step."""

    process_key: str
    package: dict  # the version's stored package: {"meta": ..., "notifications": {file stem: YAML}, ...}
    instance_id: int | None  # None for an instance created by this step
    initiator: str | None
    business_key: str | None
    data: dict  # current process data
    events: list[Event]


# -- templates -------------------------------------------------------------------------------------

_TEXT_ENV = SandboxedEnvironment(autoescape=False, keep_trailing_newline=False)
_HTML_ENV = SandboxedEnvironment(autoescape=True)

_BK_ZH = "{% if instance.business_key %}（{{ instance.business_key }}）{% endif %}"
_BK_EN = "{% if instance.business_key %} ({{ instance.business_key }}){% endif %}"
_COMMENT_ZH = "{% if comment %}\n意见：{{ comment }}{% endif %}"
_COMMENT_EN = "{% if comment %}\nComment: {{ comment }}{% endif %}"
_DUE_ZH = "{% if task.due %}\n截止时间：{{ task.due }}{% endif %}"
_DUE_EN = "{% if task.due %}\nDue: {{ task.due }}{% endif %}"

DEFAULT_TEMPLATES: dict[str, dict[str, dict[str, str]]] = {
    "task_assigned": {
        "zh": {"title": "待办：{{ task.name }}",
               "text": "您有一项新的待办「{{ task.name }}」，流程「{{ process.name }}」" + _BK_ZH + "。" + _DUE_ZH},
        "en": {"title": "New task: {{ task.name }}",
               "text": "You have a new task \"{{ task.name }}\" in {{ process.name }}" + _BK_EN + "." + _DUE_EN},
    },
    "task_due_soon": {
        "zh": {"title": "即将到期：{{ task.name }}",
               "text": "待办「{{ task.name }}」（{{ process.name }}" + _BK_ZH + "）即将到期。" + _DUE_ZH},
        "en": {"title": "Due soon: {{ task.name }}",
               "text": "Your task \"{{ task.name }}\" in {{ process.name }}" + _BK_EN + " is due soon." + _DUE_EN},
    },
    "task_overdue": {
        "zh": {"title": "已逾期：{{ task.name }}",
               "text": "待办「{{ task.name }}」（{{ process.name }}" + _BK_ZH + "）已逾期，请尽快处理。" + _DUE_ZH},
        "en": {"title": "Overdue: {{ task.name }}",
               "text": "Your task \"{{ task.name }}\" in {{ process.name }}" + _BK_EN
                       + " is overdue; please act on it soon." + _DUE_EN},
    },
    "urged": {
        "zh": {"title": "催办：{{ task.name }}",
               "text": "{{ actor or '有人' }}催您处理待办「{{ task.name }}」（{{ process.name }}" + _BK_ZH + "）。"
                       + _COMMENT_ZH},
        "en": {"title": "Reminder: {{ task.name }}",
               "text": "{{ actor or 'Someone' }} asks you to act on \"{{ task.name }}\" in {{ process.name }}"
                       + _BK_EN + "." + _COMMENT_EN},
    },
    "cc": {
        "zh": {"title": "抄送：{{ process.name }}",
               "text": "{{ actor or '系统' }}将流程「{{ process.name }}」" + _BK_ZH + "抄送给您。" + _COMMENT_ZH},
        "en": {"title": "For your information: {{ process.name }}",
               "text": "{{ actor or 'Liaison' }} copied {{ process.name }}" + _BK_EN + " to you." + _COMMENT_EN},
    },
    "returned": {
        "zh": {"title": "已退回：{{ process.name }}",
               "text": "流程「{{ process.name }}」" + _BK_ZH + "被{{ actor or '审批人' }}退回"
                       "{% if task.name %}，请在「{{ task.name }}」中修改后重新提交{% endif %}。" + _COMMENT_ZH},
        "en": {"title": "Returned: {{ process.name }}",
               "text": "{{ actor or 'An approver' }} returned {{ process.name }}" + _BK_EN
                       + "{% if task.name %}; please revise it in \"{{ task.name }}\"{% endif %}." + _COMMENT_EN},
    },
    "approved": {
        "zh": {"title": "已通过：{{ process.name }}",
               "text": "流程「{{ process.name }}」" + _BK_ZH + "已由{{ actor or '审批人' }}批准。" + _COMMENT_ZH},
        "en": {"title": "Approved: {{ process.name }}",
               "text": "{{ actor or 'An approver' }} approved {{ process.name }}" + _BK_EN + "." + _COMMENT_EN},
    },
    "rejected": {
        "zh": {"title": "已驳回：{{ process.name }}",
               "text": "流程「{{ process.name }}」" + _BK_ZH + "被{{ actor or '审批人' }}驳回。" + _COMMENT_ZH},
        "en": {"title": "Rejected: {{ process.name }}",
               "text": "{{ actor or 'An approver' }} rejected {{ process.name }}" + _BK_EN + "." + _COMMENT_EN},
    },
    "instance_finished": {
        "zh": {"title": "已办结：{{ process.name }}",
               "text": "流程「{{ process.name }}」" + _BK_ZH + "已结束。"},
        "en": {"title": "Finished: {{ process.name }}",
               "text": "{{ process.name }}" + _BK_EN + " has finished."},
    },
    "external_link": {
        "zh": {"title": "{{ extra.title or process.name }}",
               "text": "{{ extra.text or ('请打开以下链接办理「' ~ process.name ~ '」。') }}\n{{ link }}"},
        "en": {"title": "{{ extra.title or process.name }}",
               "text": "{{ extra.text or ('Please open this link for ' ~ process.name ~ '.') }}\n{{ link }}"},
    },
}
_OPEN_LABEL = {"zh": "打开", "en": "Open"}


@lru_cache(maxsize=1024)
def _compiled(html: bool, source: str):
    """A compiled template (cached per text: a step renders the same few texts over and over)."""
    return (_HTML_ENV if html else _TEXT_ENV).from_string(source)


def _render(html: bool, source: str, context: dict) -> str:
    return _compiled(html, source).render(context)[:MAX_TEXT]


def package_templates(notifications: dict | None) -> dict[str, dict]:
    """The package's event definitions merged over its files (`{event: definition}`).

    Files are read in name order; an event defined twice keeps its first definition (deployment
    refuses such a package anyway, see `notification_problems`).
    """
    merged: dict[str, dict] = {}
    for stem in sorted(notifications or {}):
        content = notifications[stem]
        if not isinstance(content, dict):
            continue
        for event, definition in content.items():
            if event in EVENTS and isinstance(definition, dict):
                merged.setdefault(event, definition)
    return merged


def channels_of(definition: dict | None) -> tuple[str, ...]:
    """The channels an event goes to: its `channels`, else in-app and e-mail (plus webhook with `webhooks`)."""
    if not definition:
        return DEFAULT_CHANNELS
    channels = definition.get("channels")
    if channels is None:
        channels = list(DEFAULT_CHANNELS) + (["webhook"] if definition.get("webhooks") else [])
    return tuple(c for c in channels if c in CHANNELS)


# -- deploy-time check -----------------------------------------------------------------------------

def notification_problems(notifications: dict) -> list[str]:
    """What is wrong with a package's notification files (`{file stem: parsed YAML}`); empty when valid.

    Every message starts with the file's name: unknown events, keys and channels, webhook
    channel without endpoint names, missing zh/en texts, template syntax errors with their line.
    """
    problems: list[str] = []
    defined_in: dict[str, str] = {}
    for stem in sorted(notifications or {}):
        content = notifications[stem]
        if not isinstance(content, dict):
            problems.append(f"{stem}: must hold a mapping of event names")
            continue
        for event, definition in content.items():
            if event not in EVENTS:
                problems.append(f"{stem}: unknown event `{event}` (known: {', '.join(EVENTS)})")
                continue
            if event in defined_in:
                problems.append(f"{stem}: event `{event}` is defined in `{defined_in[event]}` already")
                continue
            defined_in[event] = stem
            problems.extend(f"{stem}: {message}" for message in _event_problems(event, definition))
    return problems


def _event_problems(event: str, definition) -> list[str]:
    if not isinstance(definition, dict):
        return [f"`{event}` must be a mapping with `zh` and `en`"]
    problems = [f"`{event}` has an unknown key `{key}` (known: {', '.join(EVENT_KEYS)})"
                for key in definition if key not in EVENT_KEYS]
    channels = definition.get("channels")
    if channels is not None:
        if not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
            problems.append(f"`{event}.channels` must be a list of channel names")
        else:
            problems += [f"`{event}.channels`: unknown channel `{c}` (known: {', '.join(CHANNELS)})"
                         for c in channels if c not in CHANNELS]
    webhooks = definition.get("webhooks")
    if webhooks is not None and (not isinstance(webhooks, list)
                                 or not all(isinstance(w, str) and w.strip() for w in webhooks)):
        problems.append(f"`{event}.webhooks` must be a list of webhook endpoint names")
    elif isinstance(channels, list) and "webhook" in channels and not webhooks:
        problems.append(f"`{event}.channels` has `webhook` but `{event}.webhooks` names no endpoint")
    for lang in LANGUAGES:
        problems += _language_problems(event, lang, definition.get(lang))
    return problems


def _language_problems(event: str, lang: str, texts) -> list[str]:
    where = f"`{event}.{lang}`"
    if texts is None:
        return [f"{where} is missing"]
    if not isinstance(texts, dict):
        return [f"{where} must be a mapping with `title` and `text`"]
    problems = [f"{where} has an unknown key `{key}` (known: {', '.join(TEMPLATE_KEYS)})"
                for key in texts if key not in TEMPLATE_KEYS]
    for part in TEMPLATE_KEYS:
        source = texts.get(part)
        if source is None:
            if part != "html":
                problems.append(f"`{event}.{lang}.{part}` is missing")
            continue
        if not isinstance(source, str):
            problems.append(f"`{event}.{lang}.{part}` must be text")
            continue
        try:
            _compiled(part == "html", source)
        except TemplateSyntaxError as exc:
            problems.append(f"`{event}.{lang}.{part}`: template syntax error on line {exc.lineno}: {exc.message}")
    return problems


# -- recipients ------------------------------------------------------------------------------------

def _recipients(event: Event, members: dict[str, list]) -> list[str]:
    """The event's usernames in order (direct first, then group members), without the actor."""
    names = list(dict.fromkeys(n for n in event.recipients if n))
    from_groups: list[str] = []
    for group in dict.fromkeys(event.groups):
        from_groups.extend(members.get(group, ()))
    from_groups = sorted(set(from_groups) - set(names))
    if len(from_groups) > GROUP_CAP:
        log.warning("%s: groups %s have %d or more active members; only the first %d are notified",
                    event.kind, ", ".join(event.groups), len(from_groups), GROUP_CAP)
        from_groups = from_groups[:GROUP_CAP]
    return [n for n in names + from_groups if n != event.actor]


# -- rendering -------------------------------------------------------------------------------------

@cache
def _default_settings() -> Settings:
    """Settings read once per process (render_step runs in every step)."""
    return load_settings()


def _json_ready(value):
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    return value


def _due_text(due, timezone: str) -> str | None:
    """A due time as company-local "YYYY-MM-DD HH:MM" (a string is shown as it is)."""
    if due is None or due == "":
        return None
    if isinstance(due, str):
        try:
            due = datetime.fromisoformat(due)
        except ValueError:
            return due
    if isinstance(due, datetime):
        if due.tzinfo is not None:
            due = due.astimezone(ZoneInfo(timezone))
        return due.strftime("%Y-%m-%d %H:%M")
    return str(due)


def _process_names(meta: dict, key: str) -> dict[str, str]:
    name = (meta or {}).get("name")
    if isinstance(name, dict):
        zh = str(name.get("zh") or name.get("en") or key)
        return {"zh": zh, "en": str(name.get("en") or zh)}
    return {"zh": str(name or key), "en": str(name or key)}


class _EventRenderer:
    """Renders one event per language, once, and keeps the result for every recipient."""

    def __init__(self, facts: StepFacts, event: Event, definition: dict | None, people: dict,
                 settings: Settings, now: datetime):
        self.event, self.definition, self.people, self.facts, self.now = event, definition, people, facts, now
        self.default_lang = settings.locale if settings.locale in LANGUAGES else "zh"
        task_id = (event.task or {}).get("id")
        if task_id and (event.kind not in INSTANCE_EVENTS or facts.instance_id is None):
            self.path = f"/tasks/{task_id}"  # in-app rows keep the path on this site
        elif facts.instance_id is not None:
            self.path = f"/instances/{facts.instance_id}"
        else:
            self.path = "/requests/"  # a new instance's id is not known yet
        self.link = settings.base_url.rstrip("/") + self.path  # e-mail, webhooks and templates: absolute
        if event.extra.get("link"):
            self.path = self.link = str(event.extra["link"])
        task = None
        if event.task is not None:
            task = {**event.task, "due": _due_text(event.task.get("due_at"), settings.timezone)}
        self.names = _process_names(facts.package.get("meta") or {}, facts.process_key)
        self.element_names = element_names(facts.package)  # package.yaml `names`: the task's name per language
        self.base_context = {
            "event": event.kind, "task": task, "comment": event.comment, "data": facts.data or {},
            "extra": event.extra, "link": self.link, "now": now,
            "instance": {"id": facts.instance_id, "business_key": facts.business_key,
                         "initiator": facts.initiator},
        }
        self.process_key = facts.process_key
        self.cache: dict[str, tuple[str, str, str]] = {}

    def _context(self, lang: str) -> dict:
        actor = self.event.actor
        person = self.people.get(actor) if actor else None
        actor_name = actor
        if person is not None:
            actor_name = (person.name_en if lang == "en" and person.name_en else person.name) or actor
        process = {"key": self.process_key, "name": self.names[lang], "name_zh": self.names["zh"],
                   "name_en": self.names["en"]}
        context = {**self.base_context, "process": process, "actor": actor_name, "actor_username": actor,
                   "lang": lang}
        task = context["task"]
        if task is not None and task.get("element_id") in self.element_names:  # in the recipient's language
            context["task"] = {**task, "bpmn_name": task.get("name"),
                               "name": element_label(self.element_names, task["element_id"], lang, task.get("name"))}
        return context

    def render(self, lang: str) -> tuple[str, str, str]:
        """(title, text, html) in `lang`; the default template when the package's fails."""
        if lang not in self.cache:
            context = self._context(lang)
            texts = (self.definition or {}).get(lang)
            result = None
            if isinstance(texts, dict):
                try:
                    result = self._render_texts(texts, context)
                except TemplateError as exc:  # any template failure: log, use the default
                    log.error("notification template `%s.%s` of process `%s` failed (%s); using the default",
                              self.event.kind, lang, self.process_key, exc)
                except Exception:  # noqa: BLE001 - a template must never break the step
                    log.exception("notification template `%s.%s` of process `%s` failed; using the default",
                                  self.event.kind, lang, self.process_key)
            if result is None:
                result = self._render_default(lang, context)
            self.cache[lang] = result
        return self.cache[lang]

    def _render_texts(self, texts: dict, context: dict) -> tuple[str, str, str]:
        title = " ".join(_render(False, str(texts["title"]), context).split())[:MAX_TITLE]
        text = _render(False, str(texts["text"]), context).strip()
        html = (_render(True, str(texts["html"]), context) if texts.get("html")
                else _text_to_html(text, self.link, context["lang"]))
        return title, text, html

    def _render_default(self, lang: str, context: dict) -> tuple[str, str, str]:
        try:
            return self._render_texts(DEFAULT_TEMPLATES[self.event.kind][lang], context)
        except Exception:  # noqa: BLE001 - odd values in the context: still say something
            log.exception("default notification template `%s.%s` failed", self.event.kind, lang)
            title = f"{self.names[lang]}: {self.event.kind}"
            return title, title, _text_to_html(title, self.link, lang)


def _text_to_html(text: str, link: str, lang: str) -> str:
    body = str(escape(text)).replace("\n", "<br>\n")
    return (f'<div style="font-family: sans-serif; font-size: 14px; line-height: 1.6">'
            f"<p>{body}</p>"
            f'<p><a href="{escape(link)}">{_OPEN_LABEL.get(lang, "Open")}</a></p></div>')


def _language(person: Person | None, default: str) -> str:
    if person is not None and person.locale in LANGUAGES:
        return person.locale
    return default


def render_step(conn: Connection, facts: StepFacts, now: datetime,
                settings: Settings | None = None, directory: Directory | None = None) -> tuple[list[dict], list[dict]]:
    """(outbox rows, in-app notification rows) for the step; conn is a SQLAlchemy Connection (Core).

    Outbox rows are dicts `event, channel, recipient, payload`; in-app rows `recipient, event,
    task_id, title, body, link`; `store.write_step` adds the instance id. `settings` defaults to
    `load_settings()` read once per process. `directory`: the people of these very events, looked
    up already (`recipients.look_up`); else they are looked up here.
    """
    if not facts.events:
        return [], []
    settings = settings or _default_settings()
    if directory is None:
        directory = look_up(conn, facts.events)
    people, members, prefs = directory.people, directory.members, directory.preferences
    recipients = [_recipients(event, members) for event in facts.events]
    templates = package_templates(facts.package.get("notifications"))
    outbox: list[dict] = []
    inapp: list[dict] = []
    for event, names_of_event in zip(facts.events, recipients, strict=True):
        if event.kind not in EVENTS:
            log.error("unknown notification event `%s` ignored", event.kind)
            continue
        definition = templates.get(event.kind)
        renderer = _EventRenderer(facts, event, definition, people, settings, now)
        _rows_for_event(renderer, names_of_event, prefs, outbox, inapp)
    return outbox, inapp


def _rows_for_event(renderer: _EventRenderer, usernames: list[str], prefs: dict, outbox: list, inapp: list) -> None:
    """Append the event's rows: in-app and e-mail per recipient (by preference), outside e-mails, webhooks."""
    event, facts = renderer.event, renderer.facts
    channels = channels_of(renderer.definition)
    default_lang = renderer.default_lang
    task_id = (event.task or {}).get("id")
    for username in usernames:
        person = renderer.people.get(username)
        if person is not None and not person.active:
            continue
        lang = _language(person, default_lang)
        mine = prefs.get(username, {})
        if "inapp" in channels and is_enabled(mine, "inapp", event.kind):
            title, text, _ = renderer.render(lang)
            inapp.append({"recipient": username, "event": event.kind, "task_id": task_id, "title": title,
                          "body": text, "link": renderer.path[:MAX_LINK]})
        if "email" in channels and person is not None and person.email and is_enabled(mine, "email", event.kind):
            outbox.append(_email_row(event, person.email, username, lang, renderer, facts))
    if "email" in channels:
        languages = event.extra.get("email_langs") or {}  # an outside address's own language, when known
        for address in event.extra.get("emails") or ():
            lang = languages.get(address) if languages.get(address) in LANGUAGES else default_lang
            outbox.append(_email_row(event, str(address), None, lang, renderer, facts))
    if "webhook" in channels:
        for endpoint in dict.fromkeys((renderer.definition or {}).get("webhooks") or ()):
            outbox.append(_webhook_row(event, str(endpoint), default_lang, renderer, facts, renderer.now))


def _email_row(event: Event, address: str, username: str | None, lang: str, renderer: _EventRenderer,
               facts: StepFacts) -> dict:
    title, text, html = renderer.render(lang)
    if renderer.link and renderer.link not in text:
        text = f"{text}\n\n{renderer.link}"
    payload = {"subject": title, "text": text, "html": html, "lang": lang, "to": address, "username": username,
               "message_id": None,  # set on delivery: <outbox-{id}.{instance}@{host}>
               "headers": {"X-Liaison-Event": event.kind, "X-Liaison-Process": facts.process_key}}
    return {"event": event.kind, "channel": "email", "recipient": address, "payload": payload}


def _webhook_row(event: Event, endpoint: str, lang: str, renderer: _EventRenderer, facts: StepFacts,
                 now: datetime) -> dict:
    title, text, _ = renderer.render(lang)
    payload = {"event": event.kind, "process_key": facts.process_key, "instance_id": facts.instance_id,
               "business_key": facts.business_key, "task": _json_ready(event.task), "actor": event.actor,
               "comment": event.comment, "occurred_at": now.isoformat(), "title": title, "text": text,
               "link": renderer.link, "lang": lang}
    return {"event": event.kind, "channel": "webhook", "recipient": endpoint, "payload": payload}
