"""Root pytest configuration: the run profile, and shared helpers from tests/support."""

from klikit_harness.checking import profiles

profiles.register()

pytest_plugins = ["tests.support.standin"]
