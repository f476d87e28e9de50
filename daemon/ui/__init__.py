"""`taskclf-daemon ui`: the local labelling page (server, guard, day view, asks, learning)."""
