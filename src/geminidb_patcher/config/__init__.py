"""Configuration: settings from the environment, secrets, and the wiring (the composition root)."""
