"""`python -m slack_emulator`: serve the emulator until interrupted, for demos and manual runs."""

import argparse
import contextlib
import threading

from slack_emulator.emulator import DEFAULT_SIGNING_SECRET, DEFAULT_TOKEN, SlackEmulator
from slack_emulator.ratelimits import RateLimits


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the local Slack Web API emulator.")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free one)")
    parser.add_argument("--token", default=DEFAULT_TOKEN, help="the bot token it accepts")
    parser.add_argument("--signing-secret", default=DEFAULT_SIGNING_SECRET)
    parser.add_argument(
        "--rate-limits",
        action="store_true",
        help="enforce Slack's rate limits (posts about 1 a second per channel, method tiers)",
    )
    options = parser.parse_args()
    emulator = SlackEmulator(
        tokens=[options.token],
        signing_secret=options.signing_secret,
        port=options.port,
        rate_limits=RateLimits() if options.rate_limits else None,
    )
    with emulator:
        print(f"SLACK_API_URL={emulator.api_url}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
