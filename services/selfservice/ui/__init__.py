"""The built-in self-service UI: server-rendered HTML pages under `/ui/` for every browser flow."""
