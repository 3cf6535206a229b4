"""Load the TOML configuration into `config.models.Config`, with errors people can act on.

Every problem becomes a `ConfigProblem(file, key_path, message)`; all problems found in one
pass are raised together as one `ConfigError`, rendered one per line like

    config.toml: creators[1].twitch.channel: expected a string, got 42
    config.toml: creators[0].twich: unknown key; did you mean 'twitch'?
    config.toml:3:9: invalid TOML: Expected '=' after a key in a key/value pair

cattrs does the structuring (strict hooks: no silent `str(42)` or `bool("false")`), with
detailed validation and extra keys forbidden; its nested exception groups are flattened here
into key paths.
"""

from __future__ import annotations

import datetime
import os
import re
from collections.abc import Callable, Hashable, Mapping
from pathlib import Path
from typing import Any, get_args, get_origin

import attrs
import cattrs
import tomli
from cattrs.errors import (
    AttributeValidationNote,
    BaseValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
    IterableValidationNote,
)
from cattrs.gen import make_dict_structure_fn, override

from config import secrets
from config.models import (
    Config,
    CreatorConfig,
    InvalidField,
    PathSegment,
    did_you_mean,
    format_key_path,
)
from config.secrets import Secret, SecretRef
from config.untrusted_json import describe

EXIT_CODE = 1
COMMAND_LINE = "command line"


@attrs.frozen
class ConfigProblem:
    """One problem: where (`file`, `key_path`, optionally `line`/`column`) and what."""

    file: str
    key_path: str
    message: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}" + (f":{self.column}" if self.column is not None else "")
        if self.key_path:
            where += f": {self.key_path}"
        return f"{where}: {self.message}"


class ConfigError(Exception):
    """The configuration is unusable. `problems` lists every problem found; exit code 1."""

    exit_code = EXIT_CODE

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


# --- values -------------------------------------------------------------------------------------


def _describe(value: object) -> str:
    """A short description of a TOML value for 'got ...' (strings quoted, tables named)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return describe(value)  # safe for integers with thousands of digits
    if isinstance(value, str):
        text = value if len(value) <= 40 else value[:37] + "..."
        return repr(text)
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return f"a {type(value).__name__}"  # TOML dates and times


# --- the converter ------------------------------------------------------------------------------


def _strict(expected: str, check: Callable[[Any], bool], build: Callable[[Any], Any]) -> Any:
    def hook(value: Any, _type: Any) -> Any:
        if not check(value):
            raise InvalidField((), f"expected {expected}, got {_describe(value)}")
        return build(value)

    return hook


class _Unshareable(Exception):
    """A raw value `_raw_key` cannot turn into a key (a type TOML does not produce)."""


def _raw_key(value: Any) -> Hashable:
    """A hashable key equal only for raw values that structure to equal results: the type of
    every scalar is part of it (`1`, `1.0` and `true` are equal in Python, not in a config)."""
    kind = type(value)
    if kind is dict:
        return (dict, tuple((key, _raw_key(item)) for key, item in value.items()))
    if kind is list or kind is tuple:
        return (list, tuple(_raw_key(item) for item in value))
    if kind is float:
        return (float, repr(value))  # NaN equals itself here; -0.0 stays apart from 0.0
    if kind in (str, int, bool) or kind in _TOML_TIMES:
        return (kind, value)
    raise _Unshareable(kind.__name__)


_TOML_TIMES = (datetime.datetime, datetime.date, datetime.time)


def _shared(build: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """`build` (a structure hook) that returns the same value for equal raw input.

    A thousand creators configured alike then share one frozen value per table (and its
    strings, compiled regex and tuples) instead of a copy each, and each distinct table is
    validated once. Only successes are kept: a bad table raises afresh at every place it
    appears, so each one is reported with its own key path.
    """
    built: dict[Hashable, Any] = {}

    def hook(value: Any, type_: Any) -> Any:
        try:
            key: Hashable = _raw_key(value)
        except (_Unshareable, RecursionError):  # values from code; nesting past the limit
            key = _MISSING
        if key is _MISSING:
            return build(value, type_)  # which says what is wrong where, as without a key
        found = built.get(key, _MISSING)
        if found is _MISSING:
            found = built[key] = build(value, type_)
        return found

    return hook


_MISSING = object()

#: Tables that occur once (the file; each creator, as their ids differ): keys would only cost.
_ONCE = (Config, CreatorConfig)


def _make_converter(
    environ: Mapping[str, str], *, resolve_secrets: bool = True
) -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)
    conv.register_structure_hook(
        str, _strict("a string", lambda v: isinstance(v, str), lambda v: v)
    )
    conv.register_structure_hook(
        bool, _strict("true or false", lambda v: isinstance(v, bool), lambda v: v)
    )
    conv.register_structure_hook(
        int,
        _strict(
            "an integer", lambda v: isinstance(v, int) and not isinstance(v, bool), lambda v: v
        ),
    )
    conv.register_structure_hook(
        float,
        _strict(
            "a number",
            lambda v: isinstance(v, int | float) and not isinstance(v, bool),
            float,
        ),
    )
    conv.register_structure_hook(
        Path,
        _strict(
            "a path (a string)",
            # PathLike too: overrides may come from code, not only from TOML text.
            lambda v: isinstance(v, os.PathLike) or (isinstance(v, str) and bool(v.strip())),
            lambda v: Path(v).expanduser(),
        ),
    )

    def structure_secret(value: Any, _type: Any) -> Secret:
        # Never echo a value given here: an inline string is most likely the secret itself.
        if not isinstance(value, dict):
            got = (
                "a string (secrets are never inline)"
                if isinstance(value, str)
                else f"a {type(value).__name__}"
            )
            raise InvalidField(
                (),
                'expected a secret reference like { env = "NAME" } or { keyring = "entry" }, '
                f"got {got}",
            )
        allowed = ("env", "keyring", "service")
        for key in value:
            if key not in allowed:
                raise InvalidField((key,), f"unknown key{did_you_mean(key, allowed)}")
        for key, item in value.items():
            if not isinstance(item, str):
                raise InvalidField((key,), f"expected a string, got {_describe(item)}")
        try:
            ref = SecretRef(**value)
        except ValueError as exc:
            raise InvalidField((), str(exc)) from None
        if not resolve_secrets:
            return Secret(ref, value="")  # checked for form only; see `load_config`
        try:
            return secrets.resolve(ref, environ)
        except secrets.SecretUnavailable as exc:
            raise InvalidField((), str(exc)) from None

    conv.register_structure_hook(Secret, structure_secret)

    def is_homogeneous_tuple(tp: Any) -> bool:
        args = get_args(tp)
        return get_origin(tp) is tuple and len(args) == 2 and args[1] is Ellipsis

    def tuple_factory(tp: Any) -> Any:
        item_type = get_args(tp)[0]

        def build(value: Any, _type: Any) -> tuple[Any, ...]:
            # cattrs would happily iterate a string into characters; TOML arrays only here.
            if not isinstance(value, list | tuple):
                raise InvalidField((), f"expected an array, got {_describe(value)}")
            item_hook = conv.get_structure_hook(item_type)
            errors: list[Exception] = []
            out = []
            for index, item in enumerate(value):
                try:
                    out.append(item_hook(item, item_type))
                except Exception as exc:
                    note = IterableValidationNote(f"index {index}", index, item_type)
                    exc.__notes__ = [*getattr(exc, "__notes__", []), note]
                    errors.append(exc)
            if errors:
                raise IterableValidationError(f"While structuring {tp!r}", errors, tp)
            return tuple(out)

        return build if item_type in _ONCE else _shared(build)

    conv.register_structure_hook_factory(is_homogeneous_tuple, tuple_factory)

    def class_factory(cls: type) -> Any:
        if cls is Config:
            # `source` is set by the loader, not by the file.
            inner = make_dict_structure_fn(cls, conv, source=override(omit=True))
        else:
            inner = make_dict_structure_fn(cls, conv)

        def hook(value: Any, _type: Any) -> Any:
            if not isinstance(value, dict):
                raise InvalidField((), f"expected a table, got {_describe(value)}")
            return inner(value, _type)

        return hook if cls in _ONCE else _shared(hook)

    conv.register_structure_hook_factory(attrs.has, class_factory)
    return conv


# --- exception trees → problems ------------------------------------------------------------------


def _segment(exc: BaseException) -> PathSegment | None:
    for note in getattr(exc, "__notes__", ()):
        if isinstance(note, AttributeValidationNote):
            return note.name
        if isinstance(note, IterableValidationNote):
            return note.index
    return None


def _flatten(
    exc: BaseException, path: tuple[PathSegment, ...], out: list[tuple[tuple, str]]
) -> None:
    """Walk cattrs' exception tree, collecting (key path, message) pairs."""
    if isinstance(exc, BaseValidationError):
        for sub in exc.exceptions:
            segment = _segment(sub)
            _flatten(sub, path if segment is None else (*path, segment), out)
    elif isinstance(exc, ForbiddenExtraKeysError):
        valid = [a.name for a in attrs.fields(exc.cl) if a.init and a.name != "source"]
        for key in sorted(exc.extra_fields):
            hint = did_you_mean(key, valid) or f" (valid keys: {', '.join(valid)})"
            out.append(((*path, key), f"unknown key{hint}"))
    elif isinstance(exc, InvalidField):
        out.append(((*path, *exc.path), exc.render(path)))
    elif isinstance(exc, KeyError) and _segment(exc) is not None:
        out.append((path, "required key is missing"))
    elif isinstance(exc, BaseExceptionGroup):
        for member in exc.exceptions:
            _flatten(member, path, out)
    else:  # a validator we did not write; keep its words
        out.append((path, str(exc) or type(exc).__name__))


def _file_order(raw: Any, path: tuple[PathSegment, ...]) -> tuple[int, ...]:
    """Sort key: where `path` appears in the parsed file (TOML keeps key order)."""
    key: list[int] = []
    node = raw
    for segment in path:
        if isinstance(node, dict) and segment in node:
            key.append(list(node).index(segment))
            node = node[segment]
        elif isinstance(node, list) and isinstance(segment, int) and segment < len(node):
            key.append(segment)
            node = node[segment]
        else:  # a missing key: after what is present
            key.append(1 << 30)
            break
    return tuple(key)


def _problems(file: str, exc: BaseException, raw: Any) -> list[ConfigProblem]:
    found: list[tuple[tuple, str]] = []
    _flatten(exc, (), found)
    # Problems in file order, whatever order cattrs reported them in.
    found.sort(key=lambda item: _file_order(raw, item[0]))
    return [ConfigProblem(file, format_key_path(path), message) for path, message in found]


# --- paths ------------------------------------------------------------------------------------


def _absolute(path: Path, base: Path) -> Path:
    return Path(os.path.normpath(base / path)) if not path.is_absolute() else path


_PLAIN = frozenset({str, int, float, bool, type(None)})


def _resolve_paths(obj: Any, base: Path, done: dict[int, tuple[Any, Any]] | None = None) -> Any:
    """Return `obj` with every relative `Path` inside it made absolute against `base` (the
    same object where nothing changed, so unchanged values are never rebuilt). A value shared
    by several creators is resolved once and stays shared (`done`: by identity)."""
    if type(obj) in _PLAIN:
        return obj
    if isinstance(obj, Path):
        return _absolute(obj, base)
    if done is None:
        done = {}
    seen = done.get(id(obj))
    if seen is not None:
        return seen[1]
    new_obj = obj
    if isinstance(obj, tuple):
        items = tuple(_resolve_paths(item, base, done) for item in obj)
        if not all(new is old for new, old in zip(items, obj, strict=True)):
            new_obj = items
    elif attrs.has(type(obj)):
        changes = {}
        for field in attrs.fields(type(obj)):
            if not field.init or field.name == "source":
                continue
            value = getattr(obj, field.name)
            new = _resolve_paths(value, base, done)
            if new is not value:
                changes[field.alias or field.name] = new
        if changes:
            new_obj = attrs.evolve(obj, **changes)
    done[id(obj)] = (obj, new_obj)  # keeps `obj` alive, so its id is not reused meanwhile
    return new_obj


# --- overrides ----------------------------------------------------------------------------------


def _field_type(cls: type, name: str) -> Any:
    return attrs.fields_dict(cls)[name].type


def _apply_override(
    config: Config, dotted: str, value: Any, conv: cattrs.Converter, cwd: Path
) -> Config:
    parts = dotted.split(".")
    chain: list[Any] = [config]
    for depth, part in enumerate(parts):
        owner = chain[-1]
        names = [f.name for f in attrs.fields(type(owner)) if f.init and f.name != "source"]
        if part not in names:
            raise InvalidField(parts[: depth + 1], f"unknown setting{did_you_mean(part, names)}")
        current = getattr(owner, part)
        if depth < len(parts) - 1:
            if not attrs.has(type(current)):
                raise InvalidField(parts[: depth + 1], "cannot override inside this value")
            chain.append(current)
    field_type = _field_type(type(chain[-1]), parts[-1])
    try:
        new = conv.structure(value, field_type)
    except InvalidField as exc:
        raise exc.prefixed(parts) from None
    new = _resolve_paths(new, cwd)  # a path on the command line is relative to where you are
    # Rebuild from the innermost object outwards; attrs.evolve re-runs the validators.
    for depth in reversed(range(len(parts))):
        try:
            new = attrs.evolve(chain[depth], **{parts[depth]: new})
        except InvalidField as exc:
            raise exc.prefixed(parts[:depth]) from None
    return new


# --- public API ----------------------------------------------------------------------------------

_TOML_POSITION = re.compile(r"^(?P<msg>.*?)\s*\(at line (?P<line>\d+), column (?P<col>\d+)\)$")


def load_config(
    path: str | os.PathLike[str],
    *,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    resolve_secrets: bool = True,
) -> Config:
    """Read, validate and return the configuration at `path`.

    `overrides` maps dotted setting names to values from command-line flags
    (`{"runtime.data_dir": "/srv/ss", "runtime.log_level": "debug", "http.port": 9000,
    "http.host": "0.0.0.0"}`); `None` values are skipped (a flag not given). They are
    type-checked and validated like the file; their relative paths are relative to the current
    directory. `environ` is where `{ env = ... }` secrets are looked up (default `os.environ`).
    Relative paths in the file are relative to the file's folder. With `resolve_secrets=False`
    secret references are checked for form but not looked up, and every `Secret` is empty: for
    commands that read only paths (`status`), never for running.

    Raises `ConfigError` listing every problem found.
    """
    file = Path(path)
    label = str(path)
    try:
        raw_bytes = file.read_bytes()
    except FileNotFoundError:
        raise ConfigError([ConfigProblem(label, "", "file not found")]) from None
    except IsADirectoryError:
        raise ConfigError([ConfigProblem(label, "", "is a folder, not a file")]) from None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError([ConfigProblem(label, "", f"cannot read: {reason}")]) from None
    try:
        text = raw_bytes.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw_bytes.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw_bytes.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ConfigError(
            [ConfigProblem(label, "", "not UTF-8 text", line=line, column=column)]
        ) from None
    return loads_config(
        text,
        source=file,
        label=label,
        overrides=overrides,
        environ=environ,
        resolve_secrets=resolve_secrets,
    )


def loads_config(
    text: str,
    *,
    source: Path | None = None,
    label: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    resolve_secrets: bool = True,
) -> Config:
    """Like `load_config` for TOML text; relative paths are relative to `source`'s folder
    (the current directory when `source` is `None`)."""
    label = label or (str(source) if source is not None else "<config>")
    env = os.environ if environ is None else environ
    try:
        # tomli: the parser tomllib was taken from, compiled (about 3x faster on a
        # 1,000-creator file) with a pure-Python fallback where no wheel fits.
        raw = tomli.loads(text)
    except tomli.TOMLDecodeError as exc:
        match = _TOML_POSITION.match(str(exc))
        if match:
            problem = ConfigProblem(
                label,
                "",
                f"invalid TOML: {match['msg']}",
                line=int(match["line"]),
                column=int(match["col"]),
            )
        else:
            problem = ConfigProblem(label, "", f"invalid TOML: {exc}")
        raise ConfigError([problem]) from None
    except RecursionError:  # nested arrays and tables past tomli's limit
        raise ConfigError([ConfigProblem(label, "", "invalid TOML: nested too deeply")]) from None
    except ValueError:  # int() of a number past Python's 4,300-digit limit
        problem = ConfigProblem(label, "", "invalid TOML: a number with thousands of digits")
        raise ConfigError([problem]) from None

    conv = _make_converter(env, resolve_secrets=resolve_secrets)
    try:
        config = conv.structure(raw, Config)
    except Exception as exc:  # cattrs groups, InvalidField from validators
        raise ConfigError(_problems(label, exc, raw)) from None

    base = source.absolute().parent if source is not None else Path.cwd().absolute()
    config = _resolve_paths(config, base)

    problems: list[ConfigProblem] = []
    cwd = Path.cwd().absolute()
    for dotted, value in (overrides or {}).items():
        if value is None:
            continue
        try:
            config = _apply_override(config, dotted, value, conv, cwd)
        except InvalidField as exc:
            problems.append(ConfigProblem(COMMAND_LINE, format_key_path(exc.path), exc.render(())))
    if problems:
        raise ConfigError(problems)

    config = attrs.evolve(config, exports=attrs.evolve(config.exports, root=config.state_root))
    config = attrs.evolve(config, source=source.absolute() if source is not None else None)
    _check_files(config, label)
    return config


def _check_files(config: Config, label: str) -> None:
    """Files the config points at must exist (only for what is enabled)."""
    problems = []
    for index, creator in enumerate(config.creators):
        replay = creator.replay
        if creator.enabled and replay is not None and replay.enabled and not replay.file.is_file():
            problems.append(
                ConfigProblem(
                    label,
                    format_key_path(("creators", index, "replay", "file")),
                    f"no such file: {replay.file}",
                )
            )
    if problems:
        raise ConfigError(problems)
