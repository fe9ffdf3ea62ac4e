"""What the two JSON Lines loaders share: arguments, the progress bar and the summary."""

from __future__ import annotations

import json
import sys
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from pepbridge.private_files import write_private
from players.loading import (
    BatchHandler,
    LoadSummary,
    ProgressBar,
    count_lines,
    format_summary,
    load_lines,
)


class JsonLinesCommand(BaseCommand):
    """Load a JSON Lines file through a batch handler; subclasses say which handler."""

    label = "items"

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("path", help="A JSON Lines file: one JSON object per line.")
        parser.add_argument("--batch-size", type=int, default=500, help="Lines per transaction.")
        parser.add_argument(
            "--errors-file", help="Write every refused line here as JSON Lines (line, result)."
        )
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")

    def handler(self, options: dict[str, Any]) -> BatchHandler:
        raise NotImplementedError

    def handle(self, *args: Any, **options: Any) -> None:
        path = options["path"]
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1")
        try:
            total = count_lines(path)
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror}") from None
        bar = ProgressBar(total, label=self.label, stream=sys.stderr)
        bar.enabled = bar.enabled and not options["no_progress"]
        with open(path, encoding="utf-8") as lines:
            summary = load_lines(
                lines, self.handler(options), batch_size=options["batch_size"], progress=bar
            )
        bar.close()
        self._report(summary, options.get("errors_file"))

    def _report(self, summary: LoadSummary, errors_file: str | None) -> None:
        for line in format_summary(summary):
            self.stdout.write(line)
        if errors_file:
            # Mode 0600: refused lines name players and echo some of their values.
            write_private(
                Path(errors_file),
                "".join(
                    json.dumps({"line": number, **result.as_json()}, default=str) + "\n"
                    for number, result in summary.problems
                ),
            )
