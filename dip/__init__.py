"""Dissemination information packages (DIPs): access copies for researchers."""
