"""Exceptions raised by hwlib with messages that say what was wrong and what to do."""

from __future__ import annotations


class HwlibError(Exception):
    """Base class for hwlib's own errors."""


class DataNotFoundError(HwlibError, FileNotFoundError):
    """Omniglot could not be found in any of the documented places."""


class CorruptDataError(HwlibError, ValueError):
    """A data file exists but is truncated, corrupted or has the wrong layout."""


class CacheError(HwlibError, OSError):
    """The preprocessing cache folder cannot be used."""


class DownloadError(HwlibError, OSError):
    """A download failed or did not match its official checksum."""
