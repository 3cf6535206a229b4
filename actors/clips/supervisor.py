"""`ClipSupervisor`: the clip subsystem as one supervisor.

    clips                 one_for_one
    ├── capture:<creator> ClipCapture, one per creator with a capture URL
    └── jobs              ClipJobs: scheduler + N encoder worker tasks

Why the workers are tasks of one actor rather than actors: a job's truth is its database row,
so a worker has nothing worth keeping across a crash, while admission (per-creator
concurrency, cooldowns, retries) needs one place that sees every running job. A crash of
`jobs` cancels its workers (ffmpeg is stopped with `q`), and the fresh instance repairs the
interrupted jobs exactly as a restarted process does, so there is one recovery path. The
captures are separate children: a failing stream must not restart the encoders, and an
encoder bug must not drop the buffers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

from actors import ActorRef
from actors.clips.capture import ClipCapture
from actors.clips.destinations import (
    Destination,
    DiscordWebhookDestination,
    FolderDestination,
    HttpUploadDestination,
    RumbleDestination,
)
from actors.clips.jobs import ClipJobs, CreatorClips
from config.models import ClipsConfig, Config, CreatorClipsConfig
from supervisors import Backoff, ChildSpec, Strategy, Supervisor


def build_destinations(
    config: CreatorClipsConfig, data_dir: Path, creator_id: str
) -> tuple[Destination, ...]:
    """The creator's enabled destinations, named by kind (`folder`, `folder2`, ...)."""
    out: list[Destination] = []
    counts: dict[str, int] = {}
    for dest in config.destinations:
        if not dest.enabled:
            continue
        counts[dest.kind] = counts.get(dest.kind, 0) + 1
        name = dest.kind if counts[dest.kind] == 1 else f"{dest.kind}{counts[dest.kind]}"
        if dest.kind == "folder":
            folder = dest.path or data_dir / "clips" / "public" / creator_id
            out.append(FolderDestination(folder, dest.public_url, name=name))
        elif dest.kind == "discord":
            assert dest.webhook_url is not None
            out.append(
                DiscordWebhookDestination(
                    dest.webhook_url.reveal, max_upload_bytes=dest.max_upload_bytes, name=name
                )
            )
        elif dest.kind == "http":
            assert dest.url is not None
            token = dest.token.reveal if dest.token is not None else None
            out.append(HttpUploadDestination(dest.url, method=dest.method, token=token, name=name))
        elif dest.kind == "rumble":
            out.append(RumbleDestination(name=name, reason=dest.paused_reason))
    return tuple(out)


def capture_url(config: CreatorClipsConfig) -> Callable[[], str] | None:
    """A getter of the creator's capture URL (revealing a secret only when called)."""
    if config.capture_url_secret is not None:
        return config.capture_url_secret.reveal
    if config.capture_url is not None:
        url = config.capture_url
        return lambda: url
    return None


class ClipSupervisor(Supervisor):
    """Captures and the job runner for every creator with `[creators.clips]`.

    `store` returns the StateStore's ref. `jobs_ref()` is the ref to give the HTTP routes and
    to Discord commands; subscribe it to the store (it takes `Changed`) for instant pick-up of
    chat `!clip` rows, which it otherwise finds by polling every `[clips] poll_seconds`.
    """

    def __init__(
        self,
        *,
        config: Config,
        data_dir: Path,
        store: Callable[[], ActorRef],
        name: str = "clips",
        extra_input_args: Sequence[str] = (),
        clock: Callable[[], float] = time.time,
        capture_poll_seconds: float = 0.25,
    ) -> None:
        settings = config.clips or ClipsConfig()
        creators: dict[str, CreatorClips] = {}
        specs: list[ChildSpec] = []
        for creator in config.creators:
            cfg = creator.clips
            if cfg is None or not creator.enabled:
                continue
            creators[creator.id] = CreatorClips(
                creator_id=creator.id,
                display_name=creator.display_name,
                config=cfg,
                destinations=build_destinations(cfg, data_dir, creator.id),
            )
            url = capture_url(cfg)
            if url is None or not cfg.enabled:
                continue
            specs.append(
                ChildSpec(
                    f"capture:{creator.id}",
                    _capture_factory(
                        creator.id,
                        url,
                        cfg,
                        data_dir,
                        settings.ffmpeg,
                        clock,
                        capture_poll_seconds,
                    ),
                    shutdown=8.0,
                )
            )
        specs.append(
            ChildSpec(
                "jobs",
                lambda: ClipJobs(
                    store=store,
                    data_dir=data_dir,
                    creators=creators,
                    capture=self._capture_ref,
                    settings=settings,
                    extra_input_args=extra_input_args,
                    clock=clock,
                ),
                shutdown=10.0,
            )
        )
        super().__init__(
            name,
            specs,
            strategy=Strategy.ONE_FOR_ONE,
            max_restarts=10,
            max_seconds=60.0,
            backoff=Backoff(initial=0.5, maximum=30.0),
        )

    def _capture_ref(self, creator_id: str) -> ActorRef | None:
        try:
            return self.ref(f"capture:{creator_id}")
        except KeyError:
            return None

    def jobs_ref(self) -> ActorRef:
        """The `ClipJobs` actor (takes `RequestClip`, `Rescan`, `Changed`)."""
        return self.ref("jobs")


def _capture_factory(
    creator_id: str,
    url: Callable[[], str],
    cfg: CreatorClipsConfig,
    data_dir: Path,
    ffmpeg: str,
    clock: Callable[[], float],
    poll_seconds: float,
) -> Callable[[], ClipCapture]:
    def start() -> ClipCapture:
        return ClipCapture(
            creator_id=creator_id,
            url=url,
            folder=data_dir / "clips" / "buffer" / creator_id,
            ffmpeg=ffmpeg,
            segment_seconds=cfg.segment_seconds,
            buffer_seconds=cfg.buffer_seconds,
            poll_seconds=poll_seconds,
            clock=clock,
        )

    return start
