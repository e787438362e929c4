"""Validators of submission information packages (SIPs)."""
