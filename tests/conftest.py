"""Shared pytest configuration: the Hypothesis profile every test run uses."""

from __future__ import annotations

from hypothesis import HealthCheck, settings

# No deadline: executor tests start threads and processes, whose timing varies.
settings.register_profile(
    "ci",
    deadline=None,
    max_examples=50,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("ci")
