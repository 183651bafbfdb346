"""The trusted judge: it holds the hidden checks, the reference answers, the gradebook and the
results; student code never runs in it.  It starts a worker per submission (through
:mod:`autograder.transport`), asks it questions on fresh inputs and computes every verdict
itself (:mod:`.verdicts`, with the assignment's checks); :mod:`.submission` turns one notebook
into one row."""
