"""taskclf-daemon: always-on local inference for the taskclf task-type classifier."""
