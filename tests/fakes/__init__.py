"""Local fakes of platform servers that speak the documented protocols (for tests)."""
