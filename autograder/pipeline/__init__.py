"""The grading pipeline: a class's submissions in, grades and feedback out.

``grade`` (one command; :mod:`.batch` and :mod:`.jobs` run the notebooks, :mod:`.canary` grades
the reference answers first), ``submissions`` (finding each student's notebook), ``course``,
``nbgrader_config`` and ``preprocessors`` (the real nbgrader: generate, autograde, feedback),
``results`` and ``gradebook`` (one result file per student, merged into one gradebook),
``sanitize`` and ``text`` (student text and ids made safe to write).  The judge that decides
each verdict is :mod:`autograder.judge`; the sandbox each notebook runs in is
:mod:`autograder.sandbox`.
"""
