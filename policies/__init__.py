"""What the archive decides: accepted formats, retention, access, audit schedules."""
