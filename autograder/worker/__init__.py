"""The untrusted side of grading: what runs inside the sandbox (and nothing else).

This folder — and only this folder of ``autograder/`` — is mounted read-only into the worker's
sandbox (as the package ``hw_worker``).  It holds no answers and no checks: :mod:`.harness`
runs the student's cells and calls the student's functions on the judge's inputs;
:mod:`.channel` frames the messages (JSON header + safetensors payload) both ways.
"""
