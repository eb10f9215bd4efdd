"""files.* methods: the three-step upload Slack's clients use (get a URL, upload, complete)."""

from typing import Any

from slack_emulator import messages
from slack_emulator.errors import Args, SlackError
from slack_emulator.methods.types import Handler
from slack_emulator.store import Store


def get_upload_url(store: Store, args: Args) -> dict[str, Any]:
    filename = args.require("filename", "invalid_arguments")
    length = args.number("length", -1)
    if length < 0:
        raise SlackError("invalid_arguments", "length is required")
    file_id = store.new_file(filename, length)
    return {"ok": True, "upload_url": f"{store.base_url}/upload/{file_id}", "file_id": file_id}


def complete_upload(store: Store, args: Args) -> dict[str, Any]:
    wanted = args.parsed("files", "invalid_arguments") or []
    if not wanted:
        raise SlackError("invalid_arguments", "files is required")
    uploaded = []
    for item in wanted:
        file = store.files.get(item.get("id", ""))
        if file is None:
            raise SlackError("file_not_found")
        if file["content"] is None:
            raise SlackError("file_upload_not_complete")
        file["title"] = item.get("title") or file["name"]
        uploaded.append(store.file_info(file["id"]))
    channel_id = args.text("channel_id")
    if channel_id:
        channel = store.channel(channel_id)
        messages.check_can_post(channel)
        message = messages.post(
            store, channel, text=args.text("initial_comment"), thread_ts=args.text("thread_ts")
        )
        message["files"] = uploaded
        for file in uploaded:
            store.files[file["id"]]["channels"].append(channel.id)
    return {"ok": True, "files": uploaded}


def info(store: Store, args: Args) -> dict[str, Any]:
    file_id = args.require("file", "file_not_found")
    if file_id not in store.files:
        raise SlackError("file_not_found")
    return {"ok": True, "file": store.file_info(file_id)}


HANDLERS: dict[str, Handler] = {
    "files.getUploadURLExternal": get_upload_url,
    "files.completeUploadExternal": complete_upload,
    "files.info": info,
}
