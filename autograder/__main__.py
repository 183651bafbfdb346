"""The instructor/TA command line: ``python -m autograder <command> [options]``."""

from __future__ import annotations

import argparse
import sys

from hwlib.errors import DataNotFoundError, HwlibError


def build_parser() -> argparse.ArgumentParser:
    from . import train

    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train", help="meta-train a reference algorithm, report test accuracy")
    train.add_arguments(p)
    p.set_defaults(func=train.main)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (HwlibError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        if isinstance(e, DataNotFoundError):
            print("On the command line: --omniglot-root PATH, or --download.", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
