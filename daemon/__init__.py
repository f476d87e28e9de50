"""taskclf-daemon: always-on local inference for the taskclf task-type classifier."""

from __future__ import annotations

__all__ = ["package_version"]


def package_version() -> str:
    """This installation's version, from the package metadata (cheap: no heavy imports)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("taskclf-daemon")
    except PackageNotFoundError:  # a checkout on sys.path without being installed
        return "0+unknown"
