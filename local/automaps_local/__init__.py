"""Local runtime on moto: serve, simulate, the virtual clock, and the automaps CLI."""
