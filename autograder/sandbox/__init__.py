"""The grading boundary: where untrusted student code runs.

``isolation`` (bubblewrap's mounts and the kernel's limits), ``python_env`` (the judge's own
interpreter and packages, visible inside), ``boundary`` (can the sandbox be set up here; if
not, why and the fix).  The worker that runs inside is :mod:`autograder.worker`; the judge
talks to it through :mod:`autograder.transport`.
"""
