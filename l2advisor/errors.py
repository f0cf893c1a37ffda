"""The two kinds of failure the command line tells apart (exit codes 2 and 1)."""

from __future__ import annotations


class L2AdvisorError(Exception):
    """Base class: a problem with one clear sentence as its message."""

    exit_code = 1


class InputError(L2AdvisorError):
    """Bad usage or bad input (a model file, a flag, a results directory): exit code 2."""

    exit_code = 2


class RunFailed(L2AdvisorError):
    """A run that started but could not produce its result: exit code 1."""

    exit_code = 1


class AutoL2ArgumentError(InputError, ValueError):
    """A bad argument to AutoL2 (its settings, `step`'s values, a `state_dict`): an InputError like
    the rest of the API's refusals, and a ValueError as AutoL2 raised before (`except ValueError`
    keeps catching it)."""
