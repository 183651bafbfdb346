"""The template of an assignment (``python -m autograder new-assignment NAME`` copies it to
``autograder/assignments/NAME/`` and ``solutions/NAME/NAME.ipynb``): one graded function, its
hidden check, one known bug and one correct variant — the smallest assignment the pipeline
grades end to end.  Replace each part with your own; ``tests/test_new_assignment.py`` grades a
fresh copy of it, which proves the recipe complete."""

TITLE = 'What else φ can be: a learned optimizer, learned sample weights, a searched architecture, a learner that is a network'
