"""Text and names that come from a submission, made safe to write and to show anywhere.

Everything a student controls — exception messages, notes about their notebook, the name of
their folder (the student id) — passes through here before it is written to a CSV, a result
file, a graded notebook, the feedback HTML or the gradebook:

* :func:`clean_text`: any text as valid, plain, bounded text (lone surrogates replaced, control
  and bidirectional-override characters removed, the length capped);
* :func:`csv_cell`: the same, and a cell a spreadsheet would read as a formula is quoted;
* :func:`course_id`: the id under which nbgrader records a student (its folders, its
  gradebook): the id itself when it is plain, else a readable prefix and a hash of it;
* :func:`result_name`: the name of a student's result file (from :func:`course_id`, so at most
  64 + 5 bytes whatever the id).
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata

#: the longest message kept (a verdict, an error)
LIMIT = 1500
CUT = " … [{} more characters cut by the grader]"
#: Unicode's bidirectional embeddings, overrides and isolates: they reorder how text is shown
#: (a message could show one thing and say another)
BIDI = set(range(0x202A, 0x202F)) | set(range(0x2066, 0x206A)) | {0x200E, 0x200F, 0x061C}
#: ids nbgrader records as they are (folder names, gradebook ids, URLs of the formgrader)
PLAIN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
#: the form of a mapped id: a plain id of that form is mapped too, so no two ids meet
MAPPED_ID = re.compile(r".*-h[0-9a-f]{16}")
PREFIX_CHARS = 40


def _char(c: str, newlines: bool) -> str:
    code = ord(c)
    if 0xD800 <= code <= 0xDFFF:  # a lone surrogate: not encodable, not text
        return "\ufffd"
    if c in "\n\u2028\u2029\x85":
        return "\n" if newlines else " "
    if code in BIDI:
        return ""
    if unicodedata.category(c) == "Cc":  # tabs, escapes (ANSI colours), NUL, DEL, …
        return " " if c in "\t\r\v\f" else ""
    return c


def clean_text(text: object, limit: int = LIMIT, newlines: bool = True) -> str:
    """``text`` (anything: ``str()`` of it) as it may be written and shown: lone surrogates
    become U+FFFD, control characters are removed (tabs and carriage returns become spaces;
    line breaks stay unless ``newlines`` is false), bidirectional overrides are removed, and at
    most ``limit`` characters are kept (the cut is said)."""
    try:
        text = text if isinstance(text, str) else str(text)
    except Exception as e:  # noqa: BLE001 - a str() that raises is still a text to show
        text = f"<{type(e).__name__} while making a text>"
    total = len(text)
    out = "".join(_char(c, newlines) for c in text[:4 * limit + 64])  # never scan 100 MB
    if len(out) <= limit and total <= 4 * limit + 64:
        return out
    kept = max(0, limit - len(CUT.format(total)))
    return out[:kept] + CUT.format(total - kept)[:limit]


def one_line(text: object, limit: int = LIMIT) -> str:
    """:func:`clean_text` on one line (line breaks become spaces)."""
    return clean_text(text, limit, newlines=False)


FORMULA = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(text: object, limit: int = 32_000) -> str:
    """A text cell of a CSV file: :func:`clean_text`, and a leading ``= + - @`` (a formula to a
    spreadsheet: ``=HYPERLINK(…)``) gets a ``'`` in front."""
    out = clean_text(text, limit)
    return "'" + out if out.startswith(FORMULA) else out


def _raw_bytes(student: str) -> bytes:
    """The id's bytes as the file system holds them (undecodable bytes included)."""
    try:
        return os.fsencode(student)
    except UnicodeEncodeError:  # surrogates no file name decodes to
        return student.encode("utf-8", "surrogatepass")


def is_plain_id(student: str) -> bool:
    """An id nbgrader records as it is: letters, digits, ``_ . -``, at most 64 characters."""
    return bool(PLAIN_ID.fullmatch(student)) and not MAPPED_ID.fullmatch(student)


def course_id(student: str) -> str:
    """The id under which nbgrader records ``student`` (its ``submitted/``, ``autograded/`` and
    ``feedback/`` folders, its gradebook): ``student`` itself when :func:`is_plain_id`, else
    ``<readable prefix>-h<16 hex digits of its SHA-256>`` (``zoë`` → ``zoe-h…``)."""
    if is_plain_id(student):
        return student
    ascii_ = unicodedata.normalize("NFKD", clean_text(student, 1000, newlines=False))
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", ascii_.encode("ascii", "ignore").decode())
    slug = re.sub(r"^[^A-Za-z0-9]+", "", slug)[:PREFIX_CHARS].rstrip("_.-") or "student"
    return f"{slug}-h{hashlib.sha256(_raw_bytes(student)).hexdigest()[:16]}"


def result_name(student: str) -> str:
    """The file name of ``student``'s result: ``<course id>.json``."""
    return f"{course_id(student)}.json"


def id_note(student: str) -> str | None:
    """The note a row gets when its id is recorded under another name (None: it is not)."""
    if is_plain_id(student):
        return None
    return (f"the student id {one_line(student, 300)!r} is recorded as {course_id(student)!r} in "
            "the gradebook and the course folders (nbgrader takes only letters, digits, "
            "'_', '.', '-', at most 64)")


__all__ = ["clean_text", "one_line", "csv_cell", "course_id", "result_name", "is_plain_id",
           "id_note", "LIMIT"]
