"""Research commands, not part of grading: ``train`` (one algorithm on Omniglot), ``bench``
(throughput and accuracy, JSON), ``bench-isolation`` (the sandbox's cost), ``time-to-accuracy``."""
