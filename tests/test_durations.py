"""Durations (`30s`, `15m`, `26h`, `3d`, spec.md) and the config keys that take them."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from hibob_sync.config.durations import countdown, format_duration, parse_duration
from hibob_sync.config.settings import load_settings
from tests.cli_helpers import run_cli

GOOD = {
    "30s": timedelta(seconds=30),
    "15m": timedelta(minutes=15),
    "26h": timedelta(hours=26),
    "3d": timedelta(days=3),
    " 3D ": timedelta(days=3),
    "0d": timedelta(0),
}
BAD = ["3", "3 days", "3w", "-1d", "1.5d", "", "d", "3d4h", "1e3s"]


@pytest.mark.parametrize(("text", "expected"), GOOD.items())
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", BAD)
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match=r"30s, 15m, 26h or 3d"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("waited", "window", "expected"),
    [
        (timedelta(days=2, hours=5), timedelta(days=3), "2 of 3 days"),
        (timedelta(0), timedelta(days=3), "0 of 3 days"),
        (timedelta(days=9), timedelta(days=3), "3 of 3 days"),
        (timedelta(hours=5, minutes=59), timedelta(hours=26), "5 of 26 hours"),
        (timedelta(hours=25), timedelta(days=1), "1 of 1 day"),
        (timedelta(minutes=3), timedelta(minutes=90), "3 of 90 minutes"),
    ],
)
def test_countdown(waited: timedelta, window: timedelta, expected: str) -> None:
    assert countdown(waited, window) == expected


def test_format_duration() -> None:
    assert [format_duration(parse_duration(t)) for t in ("3d", "36h", "90m", "7s", "48h")] == [
        "3d",
        "36h",
        "90m",
        "7s",
        "2d",
    ]


CONFIG = """\
hithrive:
  scim_url: https://tenant.example/scim/v2
sync:
  state_path: state/state.db
"""


def test_defaults_and_values(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    settings = load_settings(config)
    assert settings.vanished_grace == timedelta(days=3)
    assert settings.metrics_file is None
    config.write_text(
        CONFIG + "  vanished_grace: 36h\nnotify:\n  metrics_file: metrics/hibob_sync.prom\n",
        encoding="utf-8",
    )
    settings = load_settings(config)
    assert settings.vanished_grace == timedelta(hours=36)
    assert settings.metrics_file == tmp_path.resolve() / "metrics" / "hibob_sync.prom"


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ("  vanished_grace: 3 days\n", "sync.vanished_grace"),
        ("  vanished_grace: 3\n", "sync.vanished_grace"),
        ("notify:\n  metrics_file: /tmp/hibob_sync.txt\n", "notify.metrics_file"),
    ],
)
def test_bad_value_is_a_config_error_naming_file_and_key(
    tmp_path: Path, extra: str, key: str
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG + extra, encoding="utf-8")
    result = run_cli("--config", str(config), "run")
    assert result.exit_code == 78, result.output
    assert result.messages.startswith(f"{config}: {key}: expected "), result.stderr
    assert "Traceback" not in result.output
