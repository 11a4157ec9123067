"""The node's configuration: one frozen object, loaded once from ``mentornet.toml`` and passed down."""

from __future__ import annotations

import ipaddress
import os
import tomllib
from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import tomli_w

from node.errors import ConfigError, NodeNotInitialised

CONFIG_FILE = "mentornet.toml"
SQLITE_FILE = "node.db"
KEY_FILE = "node.key"
DEFAULT_PORT = 8080


class UnlockMethod(StrEnum):
    PASSPHRASE = "passphrase"  # noqa: S105 (a method name, not a secret)
    KEY_FILE = "key-file"


def default_verify_processes() -> int:
    """One worker process per core but one: the serving process keeps a core of its own. (On this
    2-core machine, 1 worker ingested 31-34 % of the raw verify rate; 2 workers, which left the
    serving process to compete with them, 20-24 %: docs/performance.md.)"""
    return max(1, (os.cpu_count() or 2) - 1)


@dataclass(frozen=True)
class FederationSettings:
    """The ``[federation]`` section: peering policy, request limits, and the sync schedule."""

    open: bool = False
    max_clock_skew_seconds: int = 60
    requests_per_minute: int = 600
    pull_interval_seconds: float = 60.0
    push_interval_seconds: float = 1.0
    connect_timeout_seconds: float = 5.0
    total_timeout_seconds: float = 30.0
    backoff_initial_seconds: float = 2.0
    backoff_max_seconds: float = 3600.0
    announcement_lifetime_days: int = 14
    verify_processes: int = field(default_factory=default_verify_processes)

    def problems(self) -> list[str]:
        checks = {
            "max_clock_skew_seconds": 1 <= self.max_clock_skew_seconds <= 3600,
            "requests_per_minute": self.requests_per_minute >= 1,
            "pull_interval_seconds": self.pull_interval_seconds > 0,
            "push_interval_seconds": self.push_interval_seconds > 0,
            "connect_timeout_seconds": self.connect_timeout_seconds > 0,
            "total_timeout_seconds": self.total_timeout_seconds >= self.connect_timeout_seconds,
            "backoff_initial_seconds": 0 < self.backoff_initial_seconds <= self.backoff_max_seconds,
            "announcement_lifetime_days": 1 <= self.announcement_lifetime_days <= 30,
            "verify_processes": 0 <= self.verify_processes <= 64,
        }
        return [f"federation.{name}" for name, ok in checks.items() if not ok]


@dataclass(frozen=True)
class NodeConfig:
    """Everything a node needs to start; paths are absolute once loaded."""

    data_dir: Path
    name: str
    base_url: str
    unlock: UnlockMethod
    key_file: Path | None = None
    database_url: str | None = None
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    shutdown_timeout_seconds: float = 10.0
    max_body_bytes: int = 1024 * 1024
    metrics_allow: tuple[str, ...] = ("127.0.0.1/32", "::1/128")
    invite_ttl_days: int = 7
    max_open_requests: int = 5
    request_ttl_days: int = 14
    blob_quota_mib: int = 100
    blob_retention_days: int = 180
    client_requests_per_minute: int = 600
    signing_key_validity_days: int = 365
    federation: FederationSettings = field(default_factory=FederationSettings)

    @property
    def config_path(self) -> Path:
        return self.data_dir / CONFIG_FILE

    @property
    def sqlite_path(self) -> Path | None:
        """The embedded database file, or ``None`` when an external database is configured."""
        return None if self.database_url else self.data_dir / SQLITE_FILE

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / SQLITE_FILE}"


def validate_config(config: NodeConfig) -> NodeConfig:
    """Check every value; raise :class:`ConfigError` naming the file and the key."""
    where = str(config.config_path)
    if not config.name.strip() or len(config.name) > 200:
        raise ConfigError(f"{where}: node.name must be 1 to 200 characters")
    url = urlsplit(config.base_url)
    if url.scheme not in ("http", "https") or not url.hostname or url.query or url.fragment:
        raise ConfigError(
            f"{where}: node.base_url must be an http(s) URL without query, e.g. https://mentornet.example.org"
        )
    if config.unlock is UnlockMethod.KEY_FILE and config.key_file is None:
        raise ConfigError(f"{where}: keys.key_file is required when keys.unlock = 'key-file'")
    if not 0 < config.port < 65536:
        raise ConfigError(f"{where}: server.port must be between 1 and 65535")
    if config.max_body_bytes < 1024:
        raise ConfigError(f"{where}: server.max_body_bytes must be at least 1024")
    if config.client_requests_per_minute < 1:
        raise ConfigError(f"{where}: members.client_requests_per_minute must be >= 1")
    if not 0 <= config.blob_quota_mib <= 100_000 or not 1 <= config.blob_retention_days <= 3650:
        raise ConfigError(f"{where}: members.blob_quota_mib must be 0-100000 and members.blob_retention_days 1-3650")
    if not 1 <= config.max_open_requests <= 100 or not 1 <= config.request_ttl_days <= 90:
        raise ConfigError(f"{where}: members.max_open_requests must be 1-100 and members.request_ttl_days 1-90")
    if config.invite_ttl_days < 1 or config.signing_key_validity_days < 1:
        raise ConfigError(f"{where}: members.invite_ttl_days and keys.signing_key_validity_days must be >= 1")
    if config.database_url and not config.database_url.startswith("postgresql+asyncpg://"):
        raise ConfigError(
            f"{where}: database.url must be empty (embedded SQLite in the data directory) "
            "or start with postgresql+asyncpg://"
        )
    problems = config.federation.problems()
    if problems:
        raise ConfigError(f"{where}: out of range: {', '.join(problems)} (see docs/operator-guide.md)")
    for network in config.metrics_allow:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError as exc:
            raise ConfigError(f"{where}: metrics.allow: {network!r} is not an address or network") from exc
    return config


def load_config(data_dir: Path) -> NodeConfig:
    """Read and validate ``<data_dir>/mentornet.toml``.

    Raises:
        NodeNotInitialised: if the file does not exist.
        ConfigError: if it cannot be read or a value is invalid (the message names the file).
    """
    data_dir = data_dir.resolve()
    path = data_dir / CONFIG_FILE
    if not path.exists():
        raise NodeNotInitialised(f"no node in {data_dir} (no {CONFIG_FILE}); create one with 'mentornet init'")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config: {exc}") from exc
    try:
        node, server, database = raw.get("node", {}), raw.get("server", {}), raw.get("database", {})
        keys, members, metrics = raw.get("keys", {}), raw.get("members", {}), raw.get("metrics", {})
        key_file = keys.get("key_file")
        config = NodeConfig(
            data_dir=data_dir,
            name=_typed(node["name"], str, "node.name", path),
            base_url=_typed(node["base_url"], str, "node.base_url", path),
            unlock=UnlockMethod(keys.get("unlock", UnlockMethod.PASSPHRASE)),
            key_file=(data_dir / _typed(key_file, str, "keys.key_file", path)) if key_file else None,
            database_url=_typed(database.get("url", ""), str, "database.url", path) or None,
            host=_typed(server.get("host", "127.0.0.1"), str, "server.host", path),
            port=_typed(server.get("port", DEFAULT_PORT), int, "server.port", path),
            shutdown_timeout_seconds=float(server.get("shutdown_timeout_seconds", 10.0)),
            max_body_bytes=_typed(server.get("max_body_bytes", 1024 * 1024), int, "server.max_body_bytes", path),
            metrics_allow=tuple(metrics.get("allow", ("127.0.0.1/32", "::1/128"))),
            invite_ttl_days=_typed(members.get("invite_ttl_days", 7), int, "members.invite_ttl_days", path),
            client_requests_per_minute=_typed(
                members.get("client_requests_per_minute", 600), int, "members.client_requests_per_minute", path
            ),
            max_open_requests=_typed(members.get("max_open_requests", 5), int, "members.max_open_requests", path),
            request_ttl_days=_typed(members.get("request_ttl_days", 14), int, "members.request_ttl_days", path),
            blob_quota_mib=_typed(members.get("blob_quota_mib", 100), int, "members.blob_quota_mib", path),
            blob_retention_days=_typed(
                members.get("blob_retention_days", 180), int, "members.blob_retention_days", path
            ),
            signing_key_validity_days=_typed(
                keys.get("signing_key_validity_days", 365), int, "keys.signing_key_validity_days", path
            ),
            federation=_federation(raw.get("federation", {}), path),
        )
    except KeyError as exc:
        raise ConfigError(f"{path}: missing required setting node.{exc.args[0]}") from exc
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    return validate_config(config)


def write_config(config: NodeConfig) -> None:
    """Write the config file (mode 0600), relative paths kept relative to the data directory."""
    validate_config(config)
    key_file = ""
    if config.key_file is not None:
        try:
            key_file = str(config.key_file.relative_to(config.data_dir))
        except ValueError:
            key_file = str(config.key_file)
    document = {
        "node": {"name": config.name, "base_url": config.base_url},
        "server": {
            "host": config.host,
            "port": config.port,
            "shutdown_timeout_seconds": config.shutdown_timeout_seconds,
            "max_body_bytes": config.max_body_bytes,
        },
        "database": {"url": config.database_url or ""},
        "keys": {
            "unlock": str(config.unlock),
            "key_file": key_file,
            "signing_key_validity_days": config.signing_key_validity_days,
        },
        "members": {
            "invite_ttl_days": config.invite_ttl_days,
            "client_requests_per_minute": config.client_requests_per_minute,
            "max_open_requests": config.max_open_requests,
            "request_ttl_days": config.request_ttl_days,
            "blob_quota_mib": config.blob_quota_mib,
            "blob_retention_days": config.blob_retention_days,
        },
        "metrics": {"allow": list(config.metrics_allow)},
        "federation": asdict(config.federation),
    }
    header = "# Mentornet node configuration. An empty database.url means the embedded SQLite file node.db.\n"
    config.config_path.write_text(header + tomli_w.dumps(document), encoding="utf-8")
    config.config_path.chmod(0o600)


def _federation(section: dict[str, Any], path: Path) -> FederationSettings:
    known = {item.name: item for item in fields(FederationSettings)}
    unknown = set(section) - set(known)
    if unknown:
        raise ConfigError(f"{path}: unknown setting(s) federation.{', federation.'.join(sorted(unknown))}")
    values: dict[str, Any] = {}
    for name, value in section.items():
        default = getattr(FederationSettings(), name)
        if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        values[name] = _typed(value, type(default), f"federation.{name}", path)
    return FederationSettings(**values)


def _typed(value: Any, kind: type, key: str, path: Path) -> Any:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"{path}: {key} must be {kind.__name__}, got {value!r}")
    return value
