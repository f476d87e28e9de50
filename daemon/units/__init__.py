"""Login services: systemd user units and launchd agents, rendered, written and driven.

- :mod:`daemon.units.unit`: what a unit is (the daemon's, the collector's), where its file
  goes, how it is rendered from packaging/ and written, and the Session that runs
  systemctl/launchctl;
- :mod:`daemon.units.service`: install, uninstall and show a unit;
- :mod:`daemon.units.timer`: the daily `personalize` run (a systemd timer, a launchd agent).

Each module's ``__all__`` is its API; `taskclf-daemon service` (daemon/commands/service.py),
`doctor` and the collector's health check use nothing else.
"""
