"""``python -m hw_worker``: check the imports (a clear line and exit 3 where one fails), then
serve the judge's requests (:mod:`.serve`, :mod:`.harness`)."""

from .hello import check_imports

check_imports()

from .serve import main  # noqa: E402 - only once the imports are known to work

main()
