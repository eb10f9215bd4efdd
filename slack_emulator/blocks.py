"""Block Kit as Slack checks and stores it: its limits, and the block ids it fills in."""

import secrets
from typing import Any

MESSAGE_MAX_BLOCKS = 50
SURFACE_MAX_BLOCKS = 100

_BLOCK_TYPES = frozenset(
    {
        "actions",
        "context",
        "divider",
        "file",
        "header",
        "image",
        "input",
        "markdown",
        "rich_text",
        "section",
        "video",
    }
)
_MAX_OPTIONS = {
    "static_select": 100,
    "multi_static_select": 100,
    "overflow": 5,
    "radio_buttons": 10,
    "checkboxes": 10,
}


def validate_blocks(blocks: Any, max_blocks: int) -> list[str]:
    """Slack-style `[ERROR] … [json-pointer:…]` messages; empty when the blocks are valid."""
    validator = _Validator()
    validator.blocks(blocks, max_blocks)
    return validator.errors


class _Validator:
    def __init__(self) -> None:
        self.errors: list[str] = []

    def fail(self, pointer: str, problem: str) -> None:
        self.errors.append(f"[ERROR] {problem} [json-pointer:{pointer}]")

    def length(self, value: Any, pointer: str, limit: int) -> None:
        if isinstance(value, str) and len(value) > limit:
            self.fail(pointer, f"must be less than {limit + 1} characters")

    def blocks(self, blocks: Any, max_blocks: int) -> None:
        if not isinstance(blocks, list):
            self.fail("/blocks", "must be an array")
            return
        if len(blocks) > max_blocks:
            self.fail("/blocks", f"no more than {max_blocks} items allowed")
        block_ids: set[str] = set()
        for index, block in enumerate(blocks):
            pointer = f"/blocks/{index}"
            if not isinstance(block, dict):
                self.fail(pointer, "must be an object")
                continue
            block_id = block.get("block_id")
            if block_id is not None:
                self.length(block_id, f"{pointer}/block_id", 255)
                if block_id in block_ids:
                    self.fail(f"{pointer}/block_id", f"duplicate block_id: {block_id}")
                block_ids.add(block_id)
            self.block(block, pointer)

    def block(self, block: dict[str, Any], pointer: str) -> None:
        kind = block.get("type")
        if kind not in _BLOCK_TYPES:
            self.fail(f"{pointer}/type", f"unsupported type: {kind}")
        elif kind == "section":
            self.section(block, pointer)
        elif kind == "header":
            self.text(block.get("text"), f"{pointer}/text", 150, plain_only=True)
        elif kind == "actions":
            self.elements(block.get("elements"), f"{pointer}/elements", 25)
        elif kind == "context":
            self.context(block.get("elements"), f"{pointer}/elements")
        elif kind == "input":
            self.text(block.get("label"), f"{pointer}/label", 2000, plain_only=True)
            if "hint" in block:
                self.text(block["hint"], f"{pointer}/hint", 2000, plain_only=True)
            self.element(block.get("element"), f"{pointer}/element")

    def section(self, block: dict[str, Any], pointer: str) -> None:
        if "text" not in block and "fields" not in block:
            self.fail(pointer, "must provide either text or fields")
        if "text" in block:
            self.text(block["text"], f"{pointer}/text", 3000)
        fields = block.get("fields")
        if fields is not None:
            if not isinstance(fields, list) or len(fields) > 10:
                self.fail(f"{pointer}/fields", "must be an array of no more than 10 items")
            else:
                for index, item in enumerate(fields):
                    self.text(item, f"{pointer}/fields/{index}", 2000)
        if "accessory" in block:
            self.element(block["accessory"], f"{pointer}/accessory")

    def context(self, elements: Any, pointer: str) -> None:
        if not isinstance(elements, list) or not 1 <= len(elements) <= 10:
            self.fail(pointer, "must be an array of 1 to 10 items")
            return
        for index, element in enumerate(elements):
            if isinstance(element, dict) and element.get("type") != "image":
                self.text(element, f"{pointer}/{index}", 3000)

    def elements(self, elements: Any, pointer: str, limit: int) -> None:
        if not isinstance(elements, list) or not 1 <= len(elements) <= limit:
            self.fail(pointer, f"must be an array of 1 to {limit} items")
            return
        action_ids: set[str | None] = set()
        for index, element in enumerate(elements):
            self.element(element, f"{pointer}/{index}")
            action_id = element.get("action_id") if isinstance(element, dict) else None
            if action_id is not None and action_id in action_ids:
                self.fail(f"{pointer}/{index}/action_id", f"duplicate action_id: {action_id}")
            action_ids.add(action_id)

    def element(self, element: Any, pointer: str) -> None:
        if not isinstance(element, dict) or not isinstance(element.get("type"), str):
            self.fail(pointer, "must be an element object with a type")
            return
        kind = element["type"]
        self.length(element.get("action_id"), f"{pointer}/action_id", 255)
        if "placeholder" in element:
            self.text(element["placeholder"], f"{pointer}/placeholder", 150, plain_only=True)
        if kind == "button":
            self.text(element.get("text"), f"{pointer}/text", 75, plain_only=True)
            self.length(element.get("value"), f"{pointer}/value", 2000)
            self.length(element.get("url"), f"{pointer}/url", 3000)
            if element.get("style") not in (None, "primary", "danger"):
                self.fail(f"{pointer}/style", "must be primary or danger")
        elif kind in _MAX_OPTIONS:
            self.options(element, pointer, _MAX_OPTIONS[kind])
        elif kind == "plain_text_input":
            for key in ("min_length", "max_length"):
                value = element.get(key)
                if isinstance(value, int) and value > 3000:
                    self.fail(f"{pointer}/{key}", "must be no more than 3000")

    def options(self, element: dict[str, Any], pointer: str, limit: int) -> None:
        groups = element.get("option_groups")
        if groups is not None:
            if not isinstance(groups, list) or len(groups) > 100:
                self.fail(f"{pointer}/option_groups", "no more than 100 items allowed")
                return
            for index, group in enumerate(groups):
                options = group.get("options") if isinstance(group, dict) else None
                self.option_list(options, f"{pointer}/option_groups/{index}/options", limit)
        elif "options" in element:
            self.option_list(element["options"], f"{pointer}/options", limit)

    def option_list(self, options: Any, pointer: str, limit: int) -> None:
        if not isinstance(options, list) or not 1 <= len(options) <= limit:
            self.fail(pointer, f"must be an array of 1 to {limit} items")
            return
        for index, option in enumerate(options):
            if not isinstance(option, dict):
                self.fail(f"{pointer}/{index}", "must be an option object")
                continue
            self.text(option.get("text"), f"{pointer}/{index}/text", 75)
            self.length(option.get("value"), f"{pointer}/{index}/value", 150)
            if "description" in option:
                self.text(option["description"], f"{pointer}/{index}/description", 75)

    def text(self, obj: Any, pointer: str, limit: int, *, plain_only: bool = False) -> None:
        allowed = ("plain_text",) if plain_only else ("plain_text", "mrkdwn")
        if not isinstance(obj, dict) or obj.get("type") not in allowed:
            self.fail(pointer, f"must be a text object of type {' or '.join(allowed)}")
            return
        text = obj.get("text")
        if not isinstance(text, str) or not text:
            self.fail(f"{pointer}/text", "must be more than 0 characters")
        else:
            self.length(text, f"{pointer}/text", limit)


def with_block_ids(blocks: list[Any]) -> list[Any]:
    """A copy in which every block has a `block_id`, as Slack fills in the missing ones."""
    return [
        {**block, "block_id": block.get("block_id") or secrets.token_urlsafe(4)}
        if isinstance(block, dict)
        else block
        for block in blocks
    ]
