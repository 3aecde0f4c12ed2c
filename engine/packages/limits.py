"""Size caps of a process package, for a zip upload and a package folder alike.

Every file is capped by its kind (BPMN and DMN as XML, everything else as a YAML/JSON/text
file), the package by its file count and total size, and a zip also by its own size and by the
compression ratio of each member (a zip bomb is refused before anything is unpacked).
"""

from __future__ import annotations

from pathlib import PurePath

from engine.bpmn.xmlsafe import MAX_XML_BYTES

MAX_YAML_BYTES = 1024 * 1024  # package.yaml, forms, notifications, tests, form-js .form, .md
MAX_ZIP_BYTES = 20 * 1024 * 1024  # the zip file itself
MAX_PACKAGE_BYTES = 50 * 1024 * 1024  # every file of the package together (a zip: unpacked)
MAX_FILES = 500
MAX_RATIO = 100  # unpacked size / compressed size of any one zip member
_XML_SUFFIXES = {".bpmn", ".dmn"}


def file_limit(name: str | PurePath) -> int:
    """The most bytes a package file of this name may have."""
    return MAX_XML_BYTES if PurePath(name).suffix.lower() in _XML_SUFFIXES else MAX_YAML_BYTES


def megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):g} MB"


def file_too_large(name: str | PurePath, size: int) -> str | None:
    """The message for a package file over its cap, or None."""
    limit = file_limit(name)
    if size <= limit:
        return None
    return f"file is {size:,} bytes; the limit for a {PurePath(name).suffix or 'package'} file is {megabytes(limit)}"
