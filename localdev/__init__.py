"""Dev only: the one-command local stack, a dev host for function_app.py without Core Tools, the demo."""
