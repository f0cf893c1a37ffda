"""A database password never reaches the terminal or a results file.

No server is needed. A SQLite URI filename carries a password that SQLite ignores
(`sqlite:///file:PATH?uri=true&password=...`), so `tune` and `compare` run for real on a URL
with a password in it. A PostgreSQL URL (`user:password@host`) is given with the storage opened
on a local SQLite file instead (monkeypatched): what is shown and recorded is the URL as given.
A PostgreSQL URL on a closed port exercises the error path."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest
from test_compare import compare_args
from typer.testing import CliRunner

from l2advisor.cli.app import app
from l2advisor.tuning.storage import hide_password, masked_url

SECRET = "s3cr3t-Pa55"
runner = CliRunner()


def sqlite_url_with_password(path: Path) -> str:
    return f"sqlite:///file:{path.resolve()}?uri=true&password={SECRET}"


POSTGRES = f"postgresql://alice:{SECRET}@db.example:5432/studies"


@pytest.fixture
def postgres_on_sqlite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`--storage POSTGRES` opens a local SQLite file instead (no server here)."""
    import l2advisor.tuning.compare
    import l2advisor.tuning.storage

    local = tmp_path / "db" / "local.db"
    local.parent.mkdir(parents=True, exist_ok=True)

    def open_local(url: str) -> optuna.storages.BaseStorage:
        assert url == POSTGRES  # the URL as the user gave it reaches the storage
        return optuna.storages.RDBStorage(f"sqlite:///{local}")

    monkeypatch.setattr(l2advisor.tuning.storage, "open_storage", open_local)
    monkeypatch.setattr(l2advisor.tuning.compare, "open_storage", open_local)
    return local


def leaks(result, *dirs: Path) -> list[str]:
    """Where the secret shows: stdout, stderr, or any file under `dirs` (the study DB included)."""
    where = [name for name, text in (("stdout", result.stdout), ("stderr", result.stderr)) if SECRET in text]
    for directory in dirs:
        where += [str(f) for f in directory.rglob("*") if f.is_file() and SECRET.encode() in f.read_bytes()]
    return where


@pytest.mark.parametrize(("url", "shown"), [
    (f"postgresql://alice:{SECRET}@db.example:5432/studies", "postgresql://alice:***@db.example:5432/studies"),
    (f"postgresql+psycopg2://alice:{SECRET}@host/db?sslmode=require", "postgresql+psycopg2://alice:***@host/db?sslmode=require"),
    (f"mysql://alice:p@ss{SECRET}@host/db", "mysql://alice:***@host/db"),  # an unescaped @ in the password
    (f"postgresql://host/db?user=alice&password={SECRET}&x=1", "postgresql://host/db?user=alice&password=***&x=1"),
    ("postgresql://alice@host/db", "postgresql://alice@host/db"),  # nothing to hide: unchanged
    ("sqlite:///runs/x/optuna.db", "sqlite:///runs/x/optuna.db"),
    ("journal:/shared/study.log", "journal:/shared/study.log"),
])
def test_masked_url(url: str, shown: str) -> None:
    assert masked_url(url) == shown


def test_hide_password_in_a_driver_message() -> None:
    url = f"postgresql://alice:{SECRET}@host/db"
    message = f"could not connect with {url} (password {SECRET!r} rejected)"
    assert SECRET not in hide_password(message, url) and "alice:***@host" in hide_password(message, url)


def test_the_sqlite_url_really_carries_a_password(tmp_path: Path) -> None:
    """Control: the URL the tests below use opens, and its password is there to leak."""
    from l2advisor.tuning.storage import open_storage

    url = sqlite_url_with_password(tmp_path / "study.db")
    assert open_storage(url).url == url and SECRET in url
    assert (tmp_path / "study.db").exists() and not Path("file:").exists()


def tune_args(model: Path, url: str, out: Path) -> list[str]:
    return ["tune", str(model), "--budget", "20", "--eval-every", "10", "--trials", "1", "--storage", url,
            "--out", str(out), "--device", "cpu"]


@pytest.mark.parametrize("as_json", [False, True])
def test_tune_on_postgres_shows_and_records_no_password(tiny_model: Path, tmp_path: Path, postgres_on_sqlite: Path,
                                                        as_json: bool) -> None:
    result = runner.invoke(app, tune_args(tiny_model, POSTGRES, tmp_path / "out") + (["--json"] if as_json else []))
    assert result.exit_code == 0, result.output
    assert postgres_on_sqlite.stat().st_size > 0  # the study went to the stand-in storage
    assert leaks(result, tmp_path) == []
    if as_json:
        assert json.loads(result.stdout)["storage"] == "postgresql://alice:***@db.example:5432/studies"
    else:
        assert "postgresql://alice:***@db.example:5432/studies" in "".join(result.stderr.split())


@pytest.mark.parametrize("as_json", [False, True])
def test_tune_shows_and_records_no_password(tiny_model: Path, tmp_path: Path, as_json: bool) -> None:
    url = sqlite_url_with_password(tmp_path / "db" / "study.db")
    args = ["tune", str(tiny_model), "--budget", "20", "--eval-every", "10", "--trials", "1", "--storage", url,
            "--out", str(tmp_path / "out"), "--device", "cpu"]
    result = runner.invoke(app, args + (["--json"] if as_json else []))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "db" / "study.db").exists()  # the study really went to that URL
    assert leaks(result, tmp_path) == []
    if as_json:
        assert json.loads(result.stdout)["storage"] == masked_url(url)
    else:
        assert "password=***" in "".join(result.stderr.split())


def test_compare_json_records_no_password(tiny_model: Path, tmp_path: Path) -> None:
    url = sqlite_url_with_password(tmp_path / "db" / "study.db")
    out = tmp_path / "cmp"
    result = runner.invoke(app, [*compare_args(tiny_model, out), "--storage", url])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "compare.json").read_text())
    assert report["optuna_study"]["storage"] == masked_url(url)
    assert leaks(result, tmp_path) == []


def test_compare_on_postgres_records_no_password(tiny_model: Path, tmp_path: Path, postgres_on_sqlite: Path) -> None:
    out = tmp_path / "cmp"
    result = runner.invoke(app, [*compare_args(tiny_model, out), "--storage", POSTGRES, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["optuna_study"]["storage"] == "postgresql://alice:***@db.example:5432/studies"
    assert leaks(result, tmp_path) == []


def test_a_storage_that_cannot_be_opened_names_no_password(tiny_model: Path, tmp_path: Path) -> None:
    url = f"postgresql://alice:{SECRET}@127.0.0.1:1/studies"  # no driver, or nothing listening: an error
    result = runner.invoke(app, ["tune", str(tiny_model), "--budget", "20", "--trials", "1", "--storage", url,
                                 "--out", str(tmp_path / "out"), "--device", "cpu"])
    assert result.exit_code == 2 and "Optuna storage" in result.stderr, result.output
    assert leaks(result, tmp_path) == []


def test_a_short_password_is_hidden_where_it_stands_alone_not_inside_words() -> None:
    """With the password "p", every "p" of the driver's message became "***" ("im***ort DB access
    module"); the password is hidden where it stands alone, and the URL is shown masked."""
    url = "postgresql://u:p@127.0.0.1:1/db"
    message = f"Failed to import DB access module for {url}. Please install appropriate one; password p rejected"
    shown = hide_password(message, url)
    assert "Failed to import DB access module" in shown and "install appropriate one" in shown
    assert "postgresql://u:***@127.0.0.1:1/db" in shown and shown.endswith("password *** rejected")


def missing_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    """An RDB URL whose driver is not installed, as SQLAlchemy and Optuna report it (no driver needed)."""
    def refuse(url: str, **kwargs: object) -> None:
        raise ImportError("Failed to import DB access module for the specified storage URL. "
                          "Please install appropriate one.")

    monkeypatch.setattr(optuna.storages, "RDBStorage", refuse)


def test_a_missing_database_driver_says_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from l2advisor.errors import InputError
    from l2advisor.tuning.storage import open_storage

    with pytest.raises(InputError, match="give an RDB URL such as"):  # the control: a URL of no known kind
        open_storage("nosuchdb://host/x")
    missing_driver(monkeypatch)
    with pytest.raises(InputError) as caught:
        open_storage(POSTGRES)
    message = str(caught.value)
    assert "install the postgresql driver (psycopg2-binary)" in message and "give an RDB URL" not in message
    assert SECRET not in message


def test_compare_refuses_a_storage_it_cannot_open_before_it_trains(tiny_model: Path, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """compare opened its --storage only for the Optuna arm, after every probe and arm had trained."""
    missing_driver(monkeypatch)
    out = tmp_path / "cmp"
    result = runner.invoke(app, compare_args(tiny_model, out, "--storage", POSTGRES))
    assert result.exit_code == 2, result.output
    assert "install the postgresql driver" in " ".join(result.stderr.split())
    assert not list(out.rglob("*.jsonl"))  # nothing trained
