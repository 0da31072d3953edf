"""The HTTP endpoint devices poll, and the approval-link pages."""
