"""The ActivityWatch collector process: REST client, sources, cursor, spool writer, loop.

Import the submodules (``health``, ``status``, ...) directly: `taskclf-daemon status` reads
the collector's status file through ``status`` without loading the settings machinery.
"""
