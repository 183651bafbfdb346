"""The instructor's proof that the checks work: ``validate`` (solution full marks, blank zero,
every known bug caught with its cause) and ``measure-checks`` (any set of student code: caught,
named, false positives, spread over seeds)."""
