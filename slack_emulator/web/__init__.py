"""A Slack-like web client over the emulator: people click and type, the driver tells the bot."""

from slack_emulator.web.app import SlackWebClient, build_web_app

__all__ = ["SlackWebClient", "build_web_app"]
