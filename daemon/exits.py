"""Exit statuses: the numbers every command returns, and which error gives which (one table).

docs/configuration.md#exit-status says what each number means for each command. In general 2
means *fix your input* and 1 *the environment failed* (a disk, a lock, a service manager).
"""

from __future__ import annotations

from typing import Final

from taskclf_core.errors import OperationalError, TaskclfError

__all__ = [
    "BAD_INPUT",
    "DEGRADED",
    "EXIT_CODES",
    "FAILED",
    "HEALTHY",
    "INTERRUPTED",
    "NOT_RUNNING",
    "OK",
    "UNSUPPORTED",
    "exit_code_for",
]

OK: Final = 0
FAILED: Final = 1  # the environment failed us (a disk, a lock, a service manager, ActivityWatch)
BAD_INPUT: Final = 2  # the configuration, arguments or input data are wrong
NOT_RUNNING: Final = 3  # `status`, `reload`: no daemon holds this spool's lock
HEALTHY: Final = OK  # `status`
DEGRADED: Final = FAILED  # `status`: stale heartbeat, refused store, stopped on a fatal error
UNSUPPORTED: Final = BAD_INPUT  # `service`: neither systemd nor launchd here
INTERRUPTED: Final = 130  # Ctrl-C, as a shell reports it

# keyed by the error tree of taskclf_core.errors: the first class an error is an instance of
# decides. The environment failed us → 1; the input is wrong → 2.
EXIT_CODES: Final[tuple[tuple[type[TaskclfError], int], ...]] = (
    (OperationalError, FAILED),
    (TaskclfError, BAD_INPUT),
)


def exit_code_for(exc: TaskclfError) -> int:
    """The process exit status for an error (see :data:`EXIT_CODES`)."""
    return next(code for cls, code in EXIT_CODES if isinstance(exc, cls))
