"""Which of Slack's error answers a retry may cure, and which it never will."""

from __future__ import annotations

# Slack's answers that no retry can cure: the message, or where it is going, is wrong
# (someone deleted, deactivated, a channel archived or left, blocks Slack refuses). Such a row
# is recorded as failed with the code, counted and shown, and never tried again.
PERMANENT_ERRORS = frozenset(
    {
        "user_not_found",
        "user_disabled",
        "cannot_dm_bot",
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "invalid_blocks",
        "invalid_blocks_format",
        "invalid_attachments",
        "msg_too_long",
        "no_text",
        "too_many_attachments",
        "invalid_metadata_format",
        "invalid_metadata_schema",
        "metadata_too_large",
        "message_not_found",
        "cant_update_message",
        "edit_window_closed",
        "restricted_action",
        "restricted_action_read_only_channel",
        "restricted_action_thread_only_channel",
        "restricted_action_non_threadable_channel",
        "ekm_access_denied",
        "invalid_arguments",
        "invalid_arg_name",
        "invalid_array_arg",
        "invalid_charset",
        "invalid_form_data",
    }
)
# The token itself is refused: every delivery fails alike, and fixing the token (or the app's
# scopes) delivers them all, so these are retried (with backoff) and logged as errors.
TOKEN_ERRORS = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "missing_scope",
        "not_allowed_token_type",
        "team_access_not_granted",
    }
)
