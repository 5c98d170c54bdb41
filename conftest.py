"""Root pytest configuration of the project's own tests: shared helpers from tests/support."""

pytest_plugins = ["tests.support.standin"]
