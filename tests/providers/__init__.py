"""Fakes of outside providers (real HTTP servers on 127.0.0.1) and their fixtures."""
