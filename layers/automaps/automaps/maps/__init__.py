"""Automation maps: the model users write, its loader and the compiler to ASL."""
