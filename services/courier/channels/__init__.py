"""How messages leave: SMTP, an HTTP API, or (with nothing configured) the log and a folder."""
