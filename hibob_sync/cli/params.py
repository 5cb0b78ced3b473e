"""Parameter types for the commands: a path given empty is a usage error (2), never ``.``.

An empty ``--config ''`` (or ``HIBOB_SYNC_CONFIG=`` from an unset shell variable) used to
fall back to the normal config search, so a run could quietly use another config; an empty
``init ''`` wrote into the current folder. Click reads an empty env var as unset, so the
option's callback (``refuse_empty_env``) looks at the variable itself.
"""

from __future__ import annotations

import os
from typing import Any

import click
from click.core import ParameterSource


class NonEmptyPath(click.Path):
    """click.Path, refusing an empty (or blank) value with the option or variable named."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and not value.strip():
            self.fail(_empty(param, ctx), param, ctx)
        return super().convert(value, param, ctx)


def _empty(param: click.Parameter | None, ctx: click.Context | None) -> str:
    envvar = _envvar(param)
    source = ctx.get_parameter_source(param.name) if ctx and param and param.name else None
    if envvar and source == ParameterSource.ENVIRONMENT:
        return f"{envvar} is set but empty: set it to a path, or unset it"
    if param is not None and param.required:
        return "an empty path: give a path"
    return "an empty path: give a path, or leave it out"


def _envvar(param: click.Parameter | None) -> str | None:
    envvar = param.envvar if param is not None else None
    return envvar if isinstance(envvar, str) else None


def refuse_empty_env(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """An option callback: its env var set but empty is a usage error, as an empty option is.

    Click treats an empty variable as unset; here that would mean the default search.
    """
    envvar = _envvar(param)
    if value is None and envvar:
        raw = os.environ.get(envvar)
        if raw is not None and not raw.strip():
            raise click.BadParameter(f"{envvar} is set but empty: set it to a path, or unset it")
    return value


def names(args: list[str], group: click.Group, command: str) -> bool:
    """Whether `args` run `command` of `group`, past the group's own options: for a usage error
    click raises on those before it knows the command."""
    takes_value = {
        opt
        for param in group.params
        if isinstance(param, click.Option) and not param.is_flag and not param.count
        for opt in param.opts
    }
    words = iter(args)
    for word in words:
        if word == "--":
            return next(words, None) == command
        if word.startswith("-"):
            if word in takes_value:
                next(words, None)
            continue
        return word == command
    return False
