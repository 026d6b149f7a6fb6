"""Adapters: the outside world behind the services' ports (Telegram, charts, pacing, content
files, logs). Only the composition root and the entry points import them."""
