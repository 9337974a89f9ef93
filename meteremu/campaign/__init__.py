"""Campaigns: a package rolled out to a fleet -- canary, soak, waves -- with
acknowledgements over a pluggable bus and state in SQLite (docs/CAMPAIGN.md)."""
