"""Write configuration as TOML: the effective config (`check`) and a starter config (`init`).

Both go through tomli-w. Secrets are written as their reference (`{ env = "NAME" }`), never as a
value: the effective config is meant to be printed and pasted into bug reports.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import tomli_w

from config.models import Config
from config.secrets import Secret, SecretRef


def to_toml_data(obj: Any, secret: Callable[[SecretRef], Any] | None = None) -> Any:
    """Plain TOML-able data for a config object: `None` dropped, secrets as references.

    `secret` maps each reference to what is written in its place (default: the reference table).
    """
    if isinstance(obj, Secret | SecretRef):
        ref = obj.ref if isinstance(obj, Secret) else obj
        return secret(ref) if secret is not None else ref.to_toml()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, tuple | list):
        return [to_toml_data(item, secret) for item in obj]
    if attrs.has(type(obj)):
        out: dict[str, Any] = {}
        for field in attrs.fields(type(obj)):
            # `source` is where the file was, `regex` is derived: neither is a setting.
            if not field.init or field.name == "source":
                continue
            value = getattr(obj, field.name)
            if value is None:  # TOML has no null: absent means default
                continue
            out[field.name] = to_toml_data(value, secret)
        return out
    return obj


def effective_config_toml(config: Config) -> str:
    """The configuration as the runtime applies it (defaults filled, paths absolute), as TOML.

    Secrets appear only as references; loading this text gives back an equal `Config`.
    """
    header = "# Effective configuration"
    if config.source is not None:
        header += f" of {config.source}"
    header += "\n# (defaults filled in, paths absolute, secrets shown as references only)\n\n"
    placeholders = _Placeholders()
    text = tomli_w.dumps(to_toml_data(config, placeholders))
    for marker, inline in placeholders.inline.items():
        text = text.replace(f'"{marker}"', inline)
    return header + text


class _Placeholders:
    """Stands in for secret references while tomli-w writes, so they come out inline.

    tomli-w writes every nested table as a `[section]`; `token = { env = "NAME" }` reads
    better, so each reference becomes a unique string first and is swapped back after.
    """

    def __init__(self) -> None:
        self.nonce = uuid.uuid4().hex  # no setting value can collide with the markers
        self.inline: dict[str, str] = {}

    def __call__(self, ref: SecretRef) -> str:
        marker = f"secret-ref-{self.nonce}-{len(self.inline)}"
        # Each value through tomli-w too, so quoting and escaping are TOML's.
        parts = [tomli_w.dumps({key: value}).strip() for key, value in ref.to_toml().items()]
        self.inline[marker] = "{ " + ", ".join(parts) + " }"
        return marker


_STARTER: dict[str, Any] = {
    "runtime": {"data_dir": "var", "log_level": "info", "shutdown_deadline": 10.0},
    "http": {"enabled": True, "host": "127.0.0.1", "port": 8765},
    "exports": {"heartbeat_seconds": 10.0},
    "creators": [
        {
            "id": "my_channel",
            "display_name": "My Channel",
            "twitch": {"channel": "my_channel"},
            "tallies": [{"id": "deaths", "label": "Deaths"}],
            "triggers": [
                {
                    "id": "ping",
                    "kind": "command",
                    "pattern": "!ping",
                    "response": "pong, {user}!",
                    "cooldown_user": 5.0,
                },
                {
                    "id": "death",
                    "pattern": "!death",
                    "permission": "moderator",
                    "action": "tally_increment",
                    "tally": "deaths",
                    "response": "Deaths: {count}",
                },
            ],
        }
    ],
}

_HEADER = """\
# StreamSuites runtime configuration.
#
# Check it with:  python -m runtime check --config THIS_FILE
# Run it with:    python -m runtime run --config THIS_FILE
#
# Paths are relative to this file. Secrets are never written here: reference them as
#   token = { env = "VARIABLE_NAME" }     or     token = { keyring = "entry-name" }
"""

# Comment blocks put above the first occurrence of a table header (tomli-w writes no comments).
_COMMENTS: dict[str, str] = {
    "[runtime]": "# log_level: debug | info | warning | error | critical",
    "[http]": (
        "# Status API on loopback. The control API is enabled only with a token:\n"
        '# token = { env = "STREAMSUITES_API_TOKEN" }'
    ),
    "[exports]": (
        "# Files for the dashboard; root defaults to <data_dir>/exports/state.\n"
        '# [[exports.mirrors]] path = "../site/data", visibility = ["public"]'
    ),
    "[[creators]]": "# One [[creators]] table per creator; id is a slug (a-z, 0-9, '_', '-').",
    "[creators.twitch]": (
        "# Anonymous (read-only) without a token. To reply in chat add:\n"
        '#   nick = "my_bot"\n'
        '#   token = { env = "TWITCH_TOKEN_MY_CHANNEL" }\n'
        "# Other sources: [creators.youtube] (video_id or channel_id, api_key = { env = ... }),\n"
        "# [creators.kick] (channel), [creators.rumble] (api_url = { env = ... }),\n"
        '# [creators.replay] (file = "chat.jsonl", speed = 1.0) for offline tests.'
    ),
    "[[creators.triggers]]": (
        "# kind: command | keyword | regex; permission: everyone | subscriber | vip |\n"
        "# moderator | broadcaster; action: reply | poll_open | poll_vote | poll_close |\n"
        "# tally_increment | tally_decrement | tally_reset | score_add | clip"
    ),
}


def starter_config() -> str:
    """A commented starter configuration for `init`; it loads as is (no secrets needed)."""
    body = tomli_w.dumps(_STARTER)
    lines: list[str] = []
    done: set[str] = set()
    for line in body.splitlines():
        comment = _COMMENTS.get(line.strip())
        if comment is not None and line.strip() not in done:
            done.add(line.strip())
            lines.extend(comment.splitlines())
        lines.append(line)
    return _HEADER + "\n" + "\n".join(lines) + "\n"
