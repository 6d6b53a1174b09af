"""Unattended work: job files, batch runs, pricing, estimates, subscription quota."""
