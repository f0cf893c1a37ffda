"""The command line's words said in the Python API's: the messages the API shares with
`l2advisor probe|recommend|report` name their flags (`--probe-budget`, `recommend --budget N`),
which a Python caller never typed; the API says them as the keywords it takes (`probe_budget=`,
`l2advisor.recommend(results, budget=N)`).

Applied at the API's edges only (notices, warnings, the advice's reasons and caveats, refusals):
the science core and the shared modules keep the command line's text, which the CLI prints. A
flag becomes a keyword only where the API function concerned has a parameter of that name (read
from its signature, so the two cannot drift apart); any other flag is left as it is.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable, Sequence
from typing import Any, TypeVar, cast

from l2advisor.errors import L2AdvisorError
from l2advisor.modelfile.spec import OPTIMIZERS
from l2advisor.probing.budget import UNITS
from l2advisor.science.schedules import SCHEDULES

CALLS = ("probe", "recommend", "report")
FIRST_ARGUMENT = {"probe": "...", "recommend": "results", "report": "results"}  # before the keywords
# A flag as the command line's messages write it: not inside a word, a path, a number or a quoted value
# (`a--b`, `runs/--x`, `'--x'` and an em dash stay as they are); its value when one follows: a number
# (24,000 is written 24000 after `=`), a placeholder in capitals (N, STEPS) or a lowercase word, which
# _value keeps only where the keyword takes it (`--lr-schedule cosine`; `--budget must be` is prose);
# after a space or `=` (`--lr-schedule=cosine`, which would otherwise read lr_schedule==cosine).
_FLAG = re.compile(r"(?<![\w/\\.'\"-])--(?P<name>[a-z][a-z0-9]*(?:-[a-z0-9]+)*)(?![\w-])"
                   r"(?P<value>[ =](?:\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?(?:e[-+]?\d+)?|[A-Z][A-Z_]*|[a-z][a-z0-9]*(?![\w-]))"
                   r"(?!\w|[.,]\d))?")
# A command in backquotes: `l2advisor probe`, `recommend --budget N`, `probe --budget 8000`
_COMMAND = re.compile(r"`(?P<cli>l2advisor )?(?P<call>probe|recommend|report)(?: (?P<where>[^\s`-][^\s`]*))?"
                      r"(?P<flags>(?: --[a-z][a-z0-9-]*"
                      r"(?: [A-Za-z0-9][\w.,]*)?)*)`")
# The words a keyword takes as its value (its others are numbers, paths or placeholders); a lowercase
# word after its flag that is not one of them is the sentence's: "--unit must be steps or epochs".
_WORDS = {"lr_schedule": SCHEDULES, "unit": UNITS, "optimizer": OPTIMIZERS}
_TWICE = re.compile(r"(?<![\w.])(\w+=), \1(?![\w.])")  # "(--probe-budget, probe_budget=)" said the keyword already

SWITCHES = (bool, "bool", "bool | None")  # a keyword's annotation (a string here) that makes it an on/off switch
F = TypeVar("F", bound=Callable[..., Any])


def api_words(text: str, calls: Sequence[str] = CALLS) -> str:
    """`text` with the command line's commands and flags said as calls and keywords of the API
    functions named in `calls` (e.g. "--probe-budget 500" -> "probe_budget=500"); text without
    a known flag comes back unchanged."""
    text = _COMMAND.sub(_command, text)
    text = _FLAG.sub(lambda found: _flag(found, calls), text)
    return _TWICE.sub(r"\1", text)


def api_lines(lines: Sequence[str], calls: Sequence[str] = CALLS) -> tuple[str, ...]:
    return tuple(api_words(line, calls) for line in lines)


def speaks_api(*calls: str) -> Callable[[F], F]:
    """An API function whose refusals (InputError, and RunFailed, whose message quotes the fit's
    reasons) name the keywords of `calls` instead of the command line's flags: shared code
    (probing, runs) raises them in the command line's words."""
    def decorate(function: F) -> F:
        @functools.wraps(function)
        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return function(*args, **kwargs)
            except L2AdvisorError as refused:
                again = reworded(refused, calls)
                if str(again) == str(refused):  # already in the API's words: its own traceback is the better one
                    raise
                raise again from None
        return cast(F, call)
    return decorate


def reworded(error: L2AdvisorError, calls: Sequence[str] = CALLS) -> L2AdvisorError:
    """`error` with its message in the API's words, of the same type and attributes (a subclass
    such as runs.store.OtherSettings builds its message in __init__: not called again)."""
    again = type(error).__new__(type(error))
    again.args = (api_words(str(error), calls),)
    again.__dict__.update(error.__dict__)
    return again


def _flag(found: re.Match[str], calls: Sequence[str]) -> str:
    keyword = _keyword(found["name"], calls)
    if keyword is None:  # no API keyword of that name (--lam-max, --jobs, --json): the flag stays
        return found[0]
    value = found["value"]
    if not value:
        return keyword
    said = _value(keyword, value[1:])
    if said is None:  # a switch, or a word the keyword does not take: what follows is the sentence's
        return keyword + value if value[0] == " " else found[0]  # `--x=word` it does not take: as written
    return keyword + said


def _command(found: re.Match[str]) -> str:
    """`recommend --budget N` -> `l2advisor.recommend(results, budget=N)`, `recommend runs/x --budget N`
    -> `l2advisor.recommend('runs/x', budget=N)` (a run directory named: `probe`'s model file is not
    the API's build_model, so it stays `...`); `l2advisor probe` -> `l2advisor.probe`; a command
    with a flag the call does not take stays as it is."""
    call, flags = found["call"], re.findall(r"--([a-z][a-z0-9-]*)(?: ([A-Za-z0-9][\w.,]*))?", found["flags"])  # values as _COMMAND's
    first = repr(found["where"]) if found["where"] and call != "probe" else FIRST_ARGUMENT[call]
    if not flags and not found["where"]:
        return f"`l2advisor.{call}`" if found["cli"] else found[0]  # a bare `recommend` names the API's too
    said = [first]
    for name, value in flags:
        keyword = _keyword(name, (call,))
        if keyword is None:
            return found[0]
        if keyword.endswith("="):  # a value the command leaves open is open here too: `lr_schedule=...`
            given = _value(keyword, value) if value else "..."
            if given is None:  # a word the keyword does not take: no call says it, the command stays as typed
                return found[0]
            keyword += given
        said.append(keyword)
    return f"`l2advisor.{call}({', '.join(said)})`"


def _value(keyword: str, value: str) -> str | None:
    """`value` as `keyword` takes it: a number without its thousands' commas ("--probe-budget 24,000"
    -> "probe_budget=24000"), a placeholder as it is, a word it names as Python writes a string
    ("--lr-schedule cosine" -> "lr_schedule='cosine'", as the API's own unit='epochs'); None where
    it takes none (a switch) or the word is not one of its (then it is the sentence's next word)."""
    if not keyword.endswith("="):
        return None
    if value[0].islower():
        return repr(value) if value in _WORDS.get(keyword[:-1], ()) else None
    return value.replace(",", "")


def _keyword(flag: str, calls: Sequence[str]) -> str | None:
    """`probe_budget=` for --probe-budget; a switch with its value (`force=True`, and
    `early_stop=False` for --no-early-stop); None where no call of `calls` takes it."""
    negated = flag.startswith("no-")
    name = (flag[3:] if negated else flag).replace("-", "_")
    for call in calls:
        parameter = _parameters(call).get(name)
        if parameter is None:
            continue
        if isinstance(parameter.default, bool) or parameter.annotation in SWITCHES:  # early_stop: None = the default
            return f"{name}={not negated}"
        if not negated:
            return f"{name}="
    return None


@functools.cache
def _parameters(call: str) -> dict[str, inspect.Parameter]:
    """The keywords `l2advisor.<call>` takes (imported here, when first asked: the API's modules
    import this one)."""
    import l2advisor.api

    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return {name: p for name, p in inspect.signature(getattr(l2advisor.api, call)).parameters.items()
            if p.kind in kinds}
