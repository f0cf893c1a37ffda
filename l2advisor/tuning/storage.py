"""Where an Optuna study lives: open the storage from a URL, create or resume the study in it.

A study is kept in an Optuna storage so a rerun resumes it and several processes, on several
machines, can work on one study: a SQLite file in the run directory by default, a journal file
(`journal:PATH`, for shared filesystems), or any RDB URL (postgresql://...). A resumed study
must have been made for the same objective (model, budget, seed, lam range), or it is refused.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import optuna

from l2advisor.errors import InputError
from l2advisor.tuning.baseline import PerTrialTPE, StudySettings
from l2advisor.tuning.pruning import make_pruner

STUDY_FILE = "optuna.db"


def default_storage(run_dir: Path) -> str:
    return f"sqlite:///{(Path(run_dir) / STUDY_FILE).resolve()}"


def open_storage(url: str) -> optuna.storages.BaseStorage:
    """`journal:PATH` -> a journal file (works on shared filesystems); anything else an RDB URL."""
    try:
        if url.startswith("journal:"):
            path = Path(url[len("journal:"):]).expanduser()
            path.parent.mkdir(parents=True, exist_ok=True)  # as for a SQLite file: its folder is made
            backend = optuna.storages.journal.JournalFileBackend(str(path))
            return optuna.storages.JournalStorage(backend)
        kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
        if url.startswith("sqlite:///"):  # the file's folder; also for sqlite:///file:PATH?uri=true&...
            database = url[len("sqlite:///"):].split("?")[0]
            Path(database.removeprefix("file:")).parent.mkdir(parents=True, exist_ok=True)
        return optuna.storages.RDBStorage(url, engine_kwargs=kwargs)
    except Exception as err:
        detail = hide_password(str(err).splitlines()[0], url) if str(err) else "no detail"
        raise InputError(f"Cannot open the Optuna storage {masked_url(url)} ({type(err).__name__}: {detail}); "
                         f"{_storage_fix(err, url)}.") from None


def _storage_fix(err: Exception, url: str) -> str:
    """What to do about a storage that did not open: install the database's driver when it is the
    one missing (the URL itself was right), else give a URL of a kind Optuna opens."""
    scheme = url.split(":", 1)[0].split("+", 1)[0].lower()
    if isinstance(err, ImportError) and scheme not in ("sqlite", "journal"):
        driver = {"postgresql": "psycopg2-binary", "mysql": "PyMySQL"}.get(scheme, "its SQLAlchemy driver")
        return f"install the {scheme} driver ({driver}) in this environment, or use sqlite:///study.db or journal:PATH"
    return "give an RDB URL such as sqlite:///study.db or postgresql://..., or journal:PATH"


def in_memory(url: str) -> bool:
    """A SQLite URL with no file (`sqlite://`, `sqlite:///:memory:`): the study lives only as long
    as the process, so a rerun cannot resume it and other processes cannot share it."""
    return url.split("?")[0] in ("sqlite://", "sqlite:///:memory:")


# scheme://user:PASSWORD@host..., and ?password=PASSWORD (libpq-style query parameters)
_USERINFO_PASSWORD = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://[^:/?#@]*):(.*)@")  # to the last @: never less
_QUERY_PASSWORD = re.compile(r"([?&](?:password|passwd|pwd)=)([^&#]*)", re.IGNORECASE)


def masked_url(url: str) -> str:
    """The URL as it may be shown or stored: any password replaced by ***."""
    url = _USERINFO_PASSWORD.sub(r"\1:***@", url)
    return _QUERY_PASSWORD.sub(r"\1***", url)


def hide_password(text: str, url: str) -> str:
    """`text` (e.g. a database driver's error message) with the URL's passwords replaced by ***."""
    secrets = [m.group(2) for m in (_USERINFO_PASSWORD.search(url),) if m] + \
        [m.group(2) for m in _QUERY_PASSWORD.finditer(url)]
    text = text.replace(url, masked_url(url))
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):  # where it stands alone: "p" in
        text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(secret)}(?![A-Za-z0-9])", "***", text)  # "import" is no secret
    return text


def _change(key: str, old: Any, new: Any) -> str:
    """One difference between two objectives, as the refusal says it: a hash as what it stands for
    (two 64-digit hex strings told the user nothing), any other value as it was and is."""
    if key.endswith("sha256"):
        return f"{key}: another model file, or this one edited"
    return f"{key}: {old!r} -> {new!r}"


def open_study(storage: optuna.storages.BaseStorage, name: str, settings: StudySettings,
               objective: dict[str, Any], budget: int) -> optuna.Study:
    """Create or resume a study; refuse one made for another objective (model, budget, seed...)."""
    sampler = PerTrialTPE(settings.sampler_seed, settings.startup_trials)  # outside the try: a bug here
    pruner = make_pruner(settings.pruner, budget)  # is ours, not a storage the user gave
    try:
        study = optuna.create_study(study_name=name, storage=storage, direction="maximize", load_if_exists=True,
                                    sampler=sampler, pruner=pruner)
    except Exception as err:  # the user's database: locked, unreachable, another schema...
        detail = hide_password(str(err), getattr(storage, "url", ""))
        raise InputError(f"Cannot open study {name!r} in the Optuna storage ({type(err).__name__}: {detail}).") from None
    if study.direction != optuna.study.StudyDirection.MAXIMIZE:
        raise InputError(f"Study {name!r} minimizes; it was not made by l2advisor. Use another --study-name.")
    old = study.user_attrs.get("l2advisor")
    if old is None:
        study.set_user_attr("l2advisor", objective)
    elif old != objective:
        diff = "; ".join(_change(k, old.get(k), objective.get(k))
                         for k in sorted(set(old) | set(objective)) if old.get(k) != objective.get(k))
        raise InputError(f"Study {name!r} was run for another objective ({diff}); use another --study-name, or "
                         "--force to delete it and start over.")
    if settings.include_zero and not any(t.user_attrs.get("zero") for t in study.get_trials(deepcopy=False)):
        study.enqueue_trial({}, user_attrs={"zero": True})
    return study


def delete_study(storage: optuna.storages.BaseStorage, name: str) -> bool:
    """Delete the study `name` from `storage` (`tune --force`); False when there is none."""
    try:
        optuna.delete_study(study_name=name, storage=storage)
    except KeyError:
        return False
    return True


def pruner_note(study: optuna.Study, pruner: str, will_run: bool = True) -> str | None:
    """A sentence when trials this run adds (`will_run`) go under another --pruner than the study's
    earlier trials ran under (the objective is the same, so the study is resumed, but pruned and
    whole trials then mix); None otherwise. Each trial records its own pruner when it starts, so a
    run that adds none changes nothing (a no-op rerun with another --pruner had overwritten the
    study's record, and the next run named the wrong rule)."""
    from l2advisor.tuning.baseline import PRUNER_ATTR

    trials = study.get_trials(deepcopy=False)
    legacy = study.user_attrs.get("l2advisor_pruner")  # studies from before trials recorded theirs
    earlier = sorted({t.user_attrs.get(PRUNER_ATTR, legacy) for t in trials} - {None, pruner})
    if not will_run or not trials or not earlier:
        return None
    rules = " and ".join(f"--pruner {name}" for name in earlier)
    return (f"This study's earlier trials ran with {rules}; these run with {pruner}: its trials then mix "
            f"pruning rules ({'that' if len(earlier) == 1 else 'one'} --pruner keeps them alike, or another "
            "--study-name starts a new study).")


def sampler_note(study: optuna.Study, sampler_seed: int, will_run: bool = True) -> str | None:
    """A sentence when trials this run adds (`will_run`) draw their lams with another --sampler-seed
    than the study's earlier trials did (each records its own when it starts; a study resumed with
    another seed was accepted without a word, and its JSON named the new seed for every trial)."""
    from l2advisor.tuning.baseline import SAMPLER_ATTR

    earlier = sorted({t.user_attrs.get(SAMPLER_ATTR) for t in study.get_trials(deepcopy=False)} - {None, sampler_seed})
    if not will_run or not earlier:
        return None
    seeds = " and ".join(f"--sampler-seed {seed}" for seed in earlier)
    return (f"This study's earlier trials drew their lams with {seeds}; these draw with {sampler_seed}: the study is "
            f"then no one seed's draw ({'that' if len(earlier) == 1 else 'one'} --sampler-seed keeps it reproducible, "
            "or another --study-name starts a new study).")
