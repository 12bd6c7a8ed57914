"""The HTTP surface: public web handlers, the admin API, replies."""
