"""Local tooling, never deployed: the GeminiDB API simulator and the local runner."""
