"""Shared test settings: hypothesis runs the same examples on every machine."""

from hypothesis import HealthCheck, settings

settings.register_profile(
    "deltaprop",
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("deltaprop")
