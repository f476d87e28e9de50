"""The long-running daemon: intake, labelling, the label log, hot reload, status."""
