"""Login services: systemd user units and launchd agents, rendered, written and driven."""
