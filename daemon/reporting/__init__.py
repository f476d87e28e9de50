"""What `taskclf-daemon report` reads and draws: cached day summaries, terminal text, a page."""
