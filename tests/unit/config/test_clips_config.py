"""`[clips]` and `[creators.clips]`: defaults, secrets, destinations and cross-field checks."""

from __future__ import annotations

import pytest

from config import ConfigError, loads_config
from config.models import ClipsConfig
from config.render import effective_config_toml

BASE = '[[creators]]\nid = "c"\n'


def test_defaults_and_secret_capture_url() -> None:
    config = loads_config(
        BASE
        + '[creators.clips]\ncapture_url_secret = { env = "STREAM_URL" }\n'
        + '[[creators.clips.destinations]]\nkind = "discord"\n'
        + 'webhook_url = { env = "HOOK" }\n',
        environ={"STREAM_URL": "rtmp://host/live/secret-key", "HOOK": "https://d/x"},
    )
    clips = config.creators[0].clips
    assert clips is not None and config.clips is None
    assert clips.capture_url_secret is not None
    assert clips.capture_url_secret.reveal() == "rtmp://host/live/secret-key"
    assert clips.segment_seconds == 2.0 and clips.max_concurrent == 1
    assert clips.destinations[0].max_upload_bytes == 10 * 1024 * 1024
    text = effective_config_toml(config)
    assert "secret-key" not in text and 'capture_url_secret = { env = "STREAM_URL" }' in text
    assert ClipsConfig().workers == 2 and ClipsConfig().codec == "auto"


def test_top_level_clips_section() -> None:
    config = loads_config('[clips]\nworkers = 4\ncodec = "mpeg4"\nffmpeg = "/opt/ffmpeg"\n')
    assert config.clips == ClipsConfig(workers=4, codec="mpeg4", ffmpeg="/opt/ffmpeg")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('capture_url = "rtmp://a/b"\ncapture_url_secret = { env = "X" }', "not both"),
        ('capture_url = "ftp://a/b"', "a stream URL"),
        ("max_duration_seconds = 100\nbuffer_seconds = 60", "must hold"),
        ("min_duration_seconds = 20\nmax_duration_seconds = 10", "must not exceed"),
        ("default_duration_seconds = 90", "expected a number between"),
        ("max_concurrent = 0", "between 1 and 16"),
        ('[[creators.clips.destinations]]\nkind = "discord"', "webhook_url"),
        ('[[creators.clips.destinations]]\nkind = "http"', "needs url"),
        ('[[creators.clips.destinations]]\nkind = "ftp"', "expected one of"),
    ],
)
def test_invalid(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        loads_config(BASE + "[creators.clips]\n" + text + "\n", environ={"X": "srt://a"})
    rendered = "\n".join(str(p) for p in info.value.problems)
    assert message in rendered
    assert "creators[0].clips" in rendered


def test_inline_secret_is_refused() -> None:
    with pytest.raises(ConfigError) as info:
        loads_config(BASE + '[creators.clips]\ncapture_url_secret = "rtmp://a/key"\n')
    assert "rtmp://a/key" not in str(info.value.problems[0])
