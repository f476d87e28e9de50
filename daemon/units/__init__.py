"""Login services: systemd user units and launchd agents, rendered, written and driven.

- :mod:`daemon.units.unit`: what a unit is (the daemon's, the collector's, the daily
  personalize and retrain runs with their timers), where its files go, how they are
  rendered from packaging/ and written, and the Session that runs systemctl/launchctl;
- :mod:`daemon.units.service`: install, uninstall and show any of them, by one code path.

Each module's ``__all__`` is its API; `taskclf-daemon service` (daemon/commands/service.py),
`doctor` and the collector's health check use nothing else.
"""
