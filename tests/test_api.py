"""The library's public names, `from archiver import ...`, as its docstring shows them."""

from __future__ import annotations


def test_the_public_archive_is_the_function_whatever_was_imported_first() -> None:
    """`from archiver import archive` is the documented entry point, even after the CLI loaded."""
    import archiver
    import archiver.archiving  # what the CLI and the daemon import
    from archiver import CaptureOutcome, archive, capture_url

    assert callable(archive) and archive.__name__ == "archive"
    assert archive is archiver.archiving.archive
    assert capture_url is archiver.archiving.capture_url
    assert CaptureOutcome.__name__ == "CaptureOutcome"
