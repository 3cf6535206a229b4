"""Configuration: TOML into frozen attrs models (cattrs), secrets by reference, rendering.

Public API: `load_config`, `ConfigError`, `ConfigProblem`, the models in `config.models`,
`Secret`/`SecretRef`, `effective_config_toml` and `starter_config`.
"""

from config.loading import ConfigError, ConfigProblem, load_config, loads_config
from config.models import Config, CreatorConfig, TriggerConfig
from config.render import effective_config_toml, starter_config
from config.secrets import Secret, SecretRef

__all__ = [
    "Config",
    "ConfigError",
    "ConfigProblem",
    "CreatorConfig",
    "Secret",
    "SecretRef",
    "TriggerConfig",
    "effective_config_toml",
    "load_config",
    "loads_config",
    "starter_config",
]
