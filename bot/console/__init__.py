"""The clinic console: server-rendered pages served by the bot's own process."""
