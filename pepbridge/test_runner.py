"""`manage.py test` hands over to pytest, so Django developers and CI run the same suite."""

from __future__ import annotations

import argparse
from typing import Any


class PytestTestRunner:
    """A Django test runner that runs pytest with the project's pytest configuration."""

    def __init__(
        self, verbosity: int = 1, failfast: bool = False, keepdb: bool = False, **kwargs: Any
    ) -> None:
        self.verbosity = verbosity
        self.failfast = failfast
        self.keepdb = keepdb

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--keepdb", action="store_true", help="Preserve the test DB.")

    def run_tests(self, test_labels: list[str], **kwargs: Any) -> int:
        import pytest

        argv: list[str] = []
        if self.verbosity == 0:
            argv.append("--quiet")
        elif self.verbosity >= 2:
            argv.append("--verbose")
        if self.failfast:
            argv.append("--exitfirst")
        if self.keepdb:
            argv.append("--reuse-db")
        argv.extend(test_labels)
        return int(pytest.main(argv))
