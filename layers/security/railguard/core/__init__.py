"""Foundations every part uses: errors, time, ids, settings, the function runtime, safe logs."""
