"""The printable record of a request (`/instances/ID/print`): what it asked, who decided what and when,
and a signature line per decision, laid out for paper (the print stylesheet in `records/print.html`).

It shows exactly what the instance page shows (`work.instance_parts`, the same scoping and hidden
fields): one owner for what a viewer may read. `/instances/ID/print.pdf` is the same page as a PDF,
rendered by WeasyPrint when the optional `pdf` extra is installed (and Pango with it); without it the
route is a 404, the page offers no PDF link, and the browser's "Save as PDF" does the same.
"""

from __future__ import annotations

import mimetypes
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from flask import Blueprint, Response, abort, render_template, request

from .i18n import current_language
from .work import _may_view, instance_parts, sessions, status_label, when

bp = Blueprint("records", __name__)
STATIC = Path(__file__).resolve().parent / "static"


@cache
def _pdf_renderer():
    """`(HTML, fetcher class)` of WeasyPrint, or None when the `pdf` extra (or the Pango library it needs)
    is missing."""
    try:
        from weasyprint import HTML
        from weasyprint.urls import URLFetcher, URLFetcherResponse
    except (ImportError, OSError):
        return None

    class StaticOnly(URLFetcher):
        """This app's stylesheets from disk and nothing else: no network, no other file."""

        def __init__(self, root: str):
            super().__init__(allowed_protocols=())
            self.prefix = root + "static/"

        def fetch(self, url, headers=None):
            name = url[len(self.prefix):] if url.startswith(self.prefix) else ""
            path = (STATIC / name).resolve()
            if not name or STATIC not in path.parents or not path.is_file():
                raise ValueError(f"not fetched for the PDF: {url}")
            mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            return URLFetcherResponse(url, path.read_bytes(), {"Content-Type": mime})

    return HTML, StaticOnly


def pdf_available() -> bool:
    """True when this installation can render the record as a PDF."""
    return _pdf_renderer() is not None


def _record(instance_id: int, pdf: bool = False) -> str:
    lang = current_language()
    with sessions()() as session:
        if not _may_view(session, instance_id):
            abort(404)
        parts = instance_parts(session, instance_id, lang)
    view = parts["instance"]
    signatures = [row for row in parts["timeline"] if row.decision]
    return render_template("records/print.html", status=status_label(view["outcome"]),
                           started=when(view["created_at"]), ended=when(view["ended_at"]),
                           signatures=signatures, printed_at=when(datetime.now(UTC)),
                           pdf=pdf, pdf_available=pdf_available(), **parts)


@bp.get("/instances/<int:instance_id>/print")
def print_view(instance_id: int):
    """The request, its approval trail and the signatures, for printing; 404 for anyone who may not see it."""
    return _record(instance_id)


@bp.get("/instances/<int:instance_id>/print.pdf")
def print_pdf(instance_id: int):
    """The printable record as a PDF (A4, the page's print stylesheet); 404 without the `pdf` extra."""
    renderer = _pdf_renderer()
    if renderer is None:
        abort(404)
    html_class, fetcher = renderer
    html = _record(instance_id, pdf=True)
    document = html_class(string=html, base_url=request.url_root, url_fetcher=fetcher(request.url_root)).write_pdf()
    return Response(document, mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="record-{instance_id}.pdf"'})

