"""Everything that is not user interface. Never imports textual."""
