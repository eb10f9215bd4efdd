"""Plays Slack users for tests and the demo: what Slack sends an app, signed as Slack signs it."""

from slack_driver.driver import Slack, SlackUser
from slack_driver.signing import Delivery

__all__ = ["Delivery", "Slack", "SlackUser"]
