"""Reports that survive any text and any name (issue 23).

Student text (exception messages, notes) and student ids (folder names) reach the CSVs, the
result files, the graded notebook and the gradebook.  Unit tests first (no sandbox): the one
text helper, the ids nbgrader records, finding the notebook, result files old and new, a
failure of the grader on one student.  Then one small class through the real ``grade``
command: hostile texts, odd ids, a folder named like the notebook and two honest victims.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import os
from pathlib import Path

import pytest

from autograder.pipeline.course import REPO
from autograder.pipeline.results import (GRADER_ERROR, Row, load_result, result_path, row_of,
                                save_result, write_reports)
from autograder.pipeline.submissions import locate
from autograder.pipeline.text import PLAIN_ID, clean_text, course_id, csv_cell, result_name

ASSIGNMENT = "metalearning"  # the assignment these tests grade
NOTEBOOK = f"{ASSIGNMENT}.ipynb"

LONG_ID = "a" * 120 + "é" * 65  # 250 bytes in UTF-8: a name the file system allows
ODD_IDS = ["zoë", LONG_ID, "ann marie (2nd try) & co", "O'Brien; DROP TABLE", "-=cmd|calc",
           "<img src=x onerror=alert(1)>", ".hidden", "x-h0123456789abcdef"]


def _clean(text: str) -> bool:
    return not any(0xD800 <= ord(c) <= 0xDFFF or ord(c) < 32 and c != "\n" or ord(c) == 127
                   for c in text)


# ---- the one text helper -------------------------------------------------------------------

def test_clean_text_makes_any_text_writable_and_bounded():
    hostile = "a\ud800b\udcff\x1b[31mred\x00\x07\ttab\r\n\u202egnp.exe" + "x" * 100_000
    out = clean_text(hostile)
    assert _clean(out) and len(out) <= 1500 and "more characters cut" in out
    out.encode("utf-8")  # never raises
    assert clean_text("a\ud800b") == "a\ufffdb" and clean_text("α\nβ") == "α\nβ"
    assert clean_text("a\tb") == "a b" and "\u202e" not in clean_text("\u202eabc")
    assert clean_text("one\ntwo", newlines=False) == "one two"

    class Broken:
        def __str__(self):
            raise RuntimeError("no")
    assert "RuntimeError" in clean_text(Broken())


def test_csv_cells_are_never_formulas():
    assert csv_cell("=HYPERLINK(\"http://x\")").startswith("'=")
    assert csv_cell("@SUM(A1)") == "'@SUM(A1)" and csv_cell("+1") == "'+1"
    assert csv_cell("graded") == "graded" and csv_cell("zoë") == "zoë"


# ---- ids ---------------------------------------------------------------------------------------

def test_course_ids_are_plain_short_and_distinct():
    assert course_id("alice") == "alice" and course_id("bob_2.x-y") == "bob_2.x-y"
    ids = ODD_IDS + ["zoe", "zoë ", "Zoë", "\udcff\udcfe", "a" * 64, "a" * 65]
    mapped = {s: course_id(s) for s in ids}
    assert len(set(mapped.values())) == len(ids), mapped
    for s, c in mapped.items():
        assert PLAIN_ID.fullmatch(c), (s, c)
        assert len(c.encode()) <= 64 and len(result_name(s).encode()) <= 69
    assert course_id("zoë").startswith("zoe-h") and course_id("a" * 64) == "a" * 64
    # an id that looks like a mapped one is mapped too: it cannot take another's place
    assert course_id("x-h0123456789abcdef") != "x-h0123456789abcdef"


# ---- finding the notebook ----------------------------------------------------------------------

def test_every_name_gets_a_row_and_only_regular_files_are_read(tmp_path):
    subs = tmp_path / "subs"
    for s in ODD_IDS:
        (subs / s).mkdir(parents=True)
        (subs / s / NOTEBOOK).write_text("{}")
    os.mkdir(os.fsencode(subs) + b"/undecodable-\xff\xfe")
    (subs / "nested" / NOTEBOOK).mkdir(parents=True)  # a folder named like the notebook
    (subs / "nested" / NOTEBOOK / "junk.txt").write_text("")
    (subs / "nested" / "deep" / "er").mkdir(parents=True)
    (subs / "nested" / "deep" / "er" / NOTEBOOK).write_text("{}")
    (subs / "fifo").mkdir()
    os.mkfifo(subs / "fifo" / NOTEBOOK)
    (subs / "fifo" / "late").mkdir()
    (subs / "fifo" / "late" / NOTEBOOK).write_text("{}")
    outside = tmp_path / "secret.ipynb"
    outside.write_text("{}")
    (subs / "linked").mkdir()
    (subs / "linked" / NOTEBOOK).symlink_to(outside)
    (subs / "folder-link").symlink_to(subs / "nested")
    (subs / "file.ipynb").write_text("{}")
    (subs / "readme.txt").write_text("not a student")

    found = locate(subs, NOTEBOOK)
    assert set(found) == set(ODD_IDS) | {"undecodable-\udcff\udcfe", "nested", "fifo",
                                          "linked", "folder-link", "file"}
    assert found["nested"].notebook == subs / "nested" / "deep" / "er" / NOTEBOOK
    assert any("is not a regular file (a folder)" in n for n in found["nested"].notes)
    assert found["fifo"].notebook == subs / "fifo" / "late" / NOTEBOOK
    assert any("(a FIFO)" in n for n in found["fifo"].notes)
    assert found["linked"].notebook is None  # a link is never followed out of the folder
    assert any("symbolic link" in n for n in found["linked"].notes)
    assert found["folder-link"].notebook is None and found["file"].notebook == subs / "file.ipynb"
    assert found["zoë"].notebook == subs / "zoë" / NOTEBOOK
    assert any("recorded as 'zoe-h" in n for n in found["zoë"].notes)


# ---- result files and reports -------------------------------------------------------------------

def test_results_round_trip_for_any_id_and_old_names_are_migrated(tmp_path):
    for s in ODD_IDS + ["undecodable-\udcff"]:
        save_result(tmp_path, Row(s, 1.0, 2.0, messages={"t": "bad \ud800"}), "sha", "tiny", ASSIGNMENT)
        got = load_result(tmp_path, s)
        assert got["student"] == s and got["messages"] == {"t": "bad \ufffd"}
        assert result_path(tmp_path, s).name == result_name(s)
    old_id = "b" * 100  # plain, but longer than 64: its result used to be "<id>.json"
    legacy = tmp_path / "results" / f"{old_id}.json"
    legacy.write_text(json.dumps({"student": old_id, "score": 3.0, "max_score": 4.0,
                                  "status": "graded", "seconds": 1.0,
                                  "messages": {"t": "x\ud800"}, "notebook_sha256": "sha",
                                  "profile": "tiny"}))
    assert load_result(tmp_path, old_id)["score"] == 3.0  # read where it was
    assert row_of(load_result(tmp_path, old_id)).messages == {"t": "x\ufffd"}
    save_result(tmp_path, Row(old_id, 4.0, 4.0), "sha", "tiny", ASSIGNMENT)
    assert not legacy.exists() and load_result(tmp_path, old_id)["score"] == 4.0


def test_reports_are_written_whatever_the_text(tmp_path):
    rows = [Row("zoë", 1.0, 2.0, tests={"t": (0.0, 1.0), "u": (1.0, 1.0)},
                messages={"t": "lone \ud800 surrogate \x1b[31m" + "y" * 100_000},
                notes=["=HYPERLINK(\"x\")", "note \udcff"]),
            Row("\udcffodd\nname", status=f"{GRADER_ERROR}: boom \ud800", tests={"t": (0, 1)}),
            Row(LONG_ID, 2.0, 2.0, tests={"t": (1.0, 1.0), "u": (1.0, 1.0)})]
    write_reports(tmp_path, rows)
    grades = list(csv.DictReader(io.open(tmp_path / "grades.csv", encoding="utf-8")))
    failures = list(csv.DictReader(io.open(tmp_path / "failures.csv", encoding="utf-8")))
    assert [g["student"] for g in grades] == ["zoë", "\ufffdodd\nname", LONG_ID]
    assert grades[1]["score"] == "" and grades[2]["score"] == "2.0"
    assert "'=HYPERLINK" in grades[0]["notes"]
    assert len(failures) == 2 and len(failures[0]["message"]) <= 1500
    assert all(_clean(v.replace("\n", "")) for r in grades + failures for v in r.values())


def test_a_failure_on_one_student_is_that_students_row(tmp_path, monkeypatch):
    """The job thread survives: the grader failing on one student, a result that cannot be
    saved, a log line that cannot be printed — every student still gets exactly one row."""
    import autograder.pipeline.batch as batch
    import autograder.pipeline.jobs as jobs

    subs = tmp_path / "subs"
    for s in ("alice", "bob", "carol", "zoë"):
        (subs / s).mkdir(parents=True)
        (subs / s / NOTEBOOK).write_text("{}")
    monkeypatch.setattr(batch, "_warm_data_cache", lambda: None)
    monkeypatch.setattr(batch, "ensure_template", lambda folder, a: folder)
    monkeypatch.setattr(jobs, "make_workspace", lambda root, template, a: root.mkdir())
    monkeypatch.setattr(jobs, "record", lambda root, rows, a: rows)

    def judge_one(root, student, notebook, *args, notes=()):
        if student == "bob":
            raise RuntimeError("a bug of the grader \ud800")
        return Row(student, 3.0, 3.0, notes=list(notes))
    monkeypatch.setattr(jobs, "judge_one", judge_one)
    real_save, saves = jobs.save_result, []

    def save_result(out, row, *args):
        saves.append(row.student)
        if row.student == "carol" and saves.count("carol") == 1:
            raise OSError(36, "File name too long")
        return real_save(out, row, *args)
    monkeypatch.setattr(jobs, "save_result", save_result)

    def log(row):
        raise UnicodeEncodeError("ascii", "ë", 0, 1, "the terminal cannot show it")
    students = batch.grade_batch(subs, tmp_path / "out", "tiny", jobs=2, log=log)
    rows = {r.student: r for r in batch.results_for(tmp_path / "out", students)}
    assert sorted(rows) == ["alice", "bob", "carol", "zoë"]
    assert rows["alice"].score == 3.0 and rows["zoë"].score == 3.0
    assert rows["bob"].status.startswith(f"{GRADER_ERROR}: the grader failed on it")
    assert rows["carol"].status.startswith(f"{GRADER_ERROR}: its result could not be saved")
    assert _clean(rows["bob"].status)
    assert any("recorded as" in n for n in rows["zoë"].notes)


# ---- one class through the real `grade` command -------------------------------------------------

#: what a hostile student puts into exception messages: each sets window.__pwned if it runs
XSS = ('<script>window.__pwned=1;document.title="pwned"</script>'
       '<img src=x onerror="window.__pwned=2;document.title=\'pwned\'">'
       '<svg onload="window.__pwned=3"></svg>'
       '[click me](javascript:window.__pwned=4) <a href="javascript:window.__pwned=5">link</a>'
       '</pre></div><script>window.__pwned=6</script><!--')
HOSTILE_CELLS = {  # answer cell → its source (the blank release's other answers stay stubs)
    "inner_update": "def inner_update(*args, **kwargs):\n"
                    f"    raise ValueError({XSS!r} + ' lone \\ud800 surrogate')",
    "outer_step": "def outer_step(*args, **kwargs):\n"
                  "    raise RuntimeError('\\x1b[31mred\\x00\\x07\\t' + 'B' * 100_000)",
    "maml_meta_loss": "class Boom(Exception):\n    pass\n"
                      "Boom.__name__ = '<img src=x onerror=window.__pwned=7>'\n"
                      "def maml_meta_loss(*args, **kwargs):\n    raise Boom('x')\n"
                      "# </script><script>window.__pwned=8</script>",
    "quiz_q1": f"raise PermissionError({XSS!r})  # a refusal: quoted in the notes",
    "quiz_q2": "raise PermissionError('lone \\udcff in a note \\x1b[2J' + 'C' * 100_000)",
}


def answers(kind: str) -> dict:
    """``{answer cell: source}`` of the instructor's solution, or the hostile cells."""
    if kind == "hostile":
        return HOSTILE_CELLS
    solution = json.loads((REPO / "solutions" / ASSIGNMENT / NOTEBOOK).read_text())
    return {c["metadata"]["nbgrader"]["grade_id"]: "".join(c["source"])
            for c in solution["cells"] if c["metadata"].get("nbgrader", {}).get("solution")}


def submission(kind: str) -> dict:
    """The blank release with the answers of ``kind`` (``solution``, ``hostile``, ``blank``);
    a hostile one adds a markdown cell of its own (dropped by the rebuild)."""
    nb = copy.deepcopy(json.loads((REPO / "notebooks" / ASSIGNMENT / NOTEBOOK).read_text()))
    mine = answers(kind) if kind != "blank" else {}
    for cell in nb["cells"]:
        gid = cell["metadata"].get("nbgrader", {}).get("grade_id")
        if gid in mine:
            cell["source"] = mine[gid]
    if kind == "hostile":
        nb["cells"].insert(1, {"cell_type": "markdown", "metadata": {}, "source": XSS})
    return nb


def write(folder: Path, nb: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / NOTEBOOK).write_text(json.dumps(nb))


CLASS = {"zoë": "hostile", LONG_ID: "hostile", "ann marie (2nd try) & co": "blank",
         "victim-a": "solution", "victim-b": "solution"}


@pytest.mark.timeout(900)
def test_a_hostile_class_gets_one_exact_row_each(tmp_path, grading_data, seed_template,
                                                 monkeypatch, capsys):
    import autograder.pipeline.grade as grade_module
    from autograder.__main__ import main
    from nbgrader.api import Gradebook

    from autograder.transport.environment import judge_environment

    # the canary is tested elsewhere; its preflight computes the judge's fingerprint before
    # the job threads start (while a thread imports matplotlib, another would read it half-made)
    monkeypatch.setattr(grade_module, "run_canary", lambda *a, **k: judge_environment())
    subs, out = tmp_path / "subs", seed_template(tmp_path / "out")
    for student, kind in CLASS.items():
        write(subs / student, submission(kind))
    (subs / "nested" / NOTEBOOK).mkdir(parents=True)  # a folder named like the notebook …
    write(subs / "nested" / "deep" / "er", submission("blank"))  # … and the notebook deeper
    students = sorted([*CLASS, "nested"])
    command = ["grade", str(subs), "--out", str(out), "--profile", "tiny", "--jobs", "2",
               "--cell-timeout", "60", "--notebook-timeout", "300"]
    assert main(command) == 0, capsys.readouterr()

    grades = list(csv.DictReader(io.open(out / "grades.csv", encoding="utf-8")))
    failures = list(csv.DictReader(io.open(out / "failures.csv", encoding="utf-8")))
    assert sorted(g["student"] for g in grades) == students  # exactly one row each
    by = {g["student"]: g for g in grades}
    tests = [k for k in grades[0] if k.startswith("test_")]
    for victim in ("victim-a", "victim-b"):
        row = by[victim]
        assert (row["score"], row["max_score"], row["status"], row["notes"]) == \
            ("33.0", "33.0", "graded", ""), row
        assert all(float(row[t]) > 0 for t in tests), row
        assert not [f for f in failures if f["student"] == victim]
    for student in students:
        assert by[student]["status"] == "graded" and by[student]["max_score"] == "33.0"
    assert "is not a regular file (a folder)" in by["nested"]["notes"]
    assert "recorded as 'zoe-h" in by["zoë"]["notes"]
    hostile = [f for f in failures if f["student"] in ("zoë", LONG_ID)]
    assert any("window.__pwned" in f["message"] for f in hostile)
    for row in grades + failures:
        assert all(_clean(v.replace("\n", "")) for v in row.values()), row
        assert all(len(v) <= 32_000 for v in row.values())
    assert all(len(f["message"]) <= 1500 for f in failures)

    with Gradebook(f"sqlite:///{out / 'gradebook.db'}") as gb:
        recorded = {s.student.id: s.score for s in gb.assignment_submissions(ASSIGNMENT)}
    assert recorded == {course_id(s): float(by[s]["score"]) for s in students}
    for s in students:  # the feedback holds the student's text only as text
        html = (out / "feedback" / course_id(s) / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
        live = ["<script>window", "<img src=x", "<svg onload", '<a href="javascript']
        assert not [tag for tag in live if tag in html], s
        if CLASS.get(s) == "hostile":
            assert "&lt;script&gt;window.__pwned=1" in html  # shown, as text
        graded = json.loads((out / "autograded" / course_id(s) / ASSIGNMENT / NOTEBOOK)
                            .read_text())
        assert not [c for c in graded["cells"] if c["cell_type"] == "markdown"
                    and "__pwned" in "".join(c["source"])]

    stamps = {p: p.stat().st_mtime_ns for p in (out / "results").iterdir()}
    assert main(command) == 0  # again: nobody is graded again, nothing changes
    assert {p: p.stat().st_mtime_ns for p in (out / "results").iterdir()} == stamps
    again = list(csv.DictReader(io.open(out / "grades.csv", encoding="utf-8")))
    assert again == grades
