"""Building archival information packages (AIPs) and ingesting them."""
