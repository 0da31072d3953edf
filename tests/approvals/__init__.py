"""Approval requests, links, notifications and the approval screen."""
