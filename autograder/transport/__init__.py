"""The judge's side of the channel to a sandboxed worker, below the checks that use it:
:mod:`.client` (starts a worker, bounded frames, request ids), :mod:`.lending` (reference
functions lent to a worker, computed in the judge), :mod:`.local` (in-process, for self-checks
and tests)."""
