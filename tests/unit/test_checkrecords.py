"""The records of binaries the direct reader was checked on (capture.checkrecords) are a
trust boundary: a record is taken only from a directory no other user can write, only as a
0600 regular file of the user pooltui runs as, and only for the key it names."""

from __future__ import annotations

import json
import os

import pytest

from pooltui.capture import checkrecords
from pooltui.capture.checkrecords import CheckRecords

KEY = [[1, 2, 3, 4, 5], [3, 11], ["0.1.0", [[6, 7, 8, 9, 10]]]]
NOBODY = 65534

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")


@pytest.fixture
def folder(tmp_path):
    path = tmp_path / "records"
    return str(path)


def _only_record(folder: str) -> str:
    (name,) = [n for n in os.listdir(folder) if n.startswith("direct-")]
    return os.path.join(folder, name)


def test_a_record_is_read_back_as_written_and_the_folder_is_made_private(folder):
    records = CheckRecords(folder)
    assert records.lookup(KEY) is None
    records.record(KEY, True)
    assert records.lookup(KEY) is True
    records.record(KEY, False)  # a later comparison replaces it
    assert records.lookup(KEY) is False
    assert os.stat(folder).st_mode & 0o777 == 0o700
    assert os.stat(_only_record(folder)).st_mode & 0o777 == 0o600
    assert [n for n in os.listdir(folder) if not n.startswith("direct-")] == []  # no temporary file left


def test_another_key_finds_nothing(folder):
    CheckRecords(folder).record(KEY, True)
    assert CheckRecords(folder).lookup([*KEY[:2], ["0.2.0", KEY[2][1]]]) is None


def test_a_record_that_names_another_key_is_refused(folder):
    records = CheckRecords(folder)
    records.record(KEY, True)
    path = _only_record(folder)
    with open(path) as f:
        record = json.load(f)
    record["key"][0][0] = 99
    with open(path, "w") as f:
        json.dump(record, f)
    assert records.lookup(KEY) is None


def test_a_record_others_may_read_or_write_is_refused(folder):
    records = CheckRecords(folder)
    records.record(KEY, True)
    os.chmod(_only_record(folder), 0o644)
    assert records.lookup(KEY) is None


@needs_root
def test_a_record_owned_by_another_user_is_refused(folder):
    records = CheckRecords(folder)
    records.record(KEY, True)
    os.chown(_only_record(folder), NOBODY, NOBODY)
    assert records.lookup(KEY) is None


def test_a_symlinked_record_is_refused(folder, tmp_path):
    records = CheckRecords(folder)
    records.record(KEY, True)
    path = _only_record(folder)
    elsewhere = tmp_path / "elsewhere.json"
    os.rename(path, elsewhere)
    os.symlink(elsewhere, path)
    assert records.lookup(KEY) is None


def test_a_folder_others_may_write_is_neither_read_nor_written(folder):
    records = CheckRecords(folder)
    records.record(KEY, True)
    os.chmod(folder, 0o777)
    assert records.lookup(KEY) is None
    os.chmod(folder, 0o1777)  # sticky or not: the records' own folder is private or unused
    assert records.lookup(KEY) is None
    os.unlink(_only_record(folder))
    records.record(KEY, True)
    assert os.listdir(folder) == []


def test_a_folder_below_one_others_may_write_is_not_used(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)  # anyone could swap the records' folder for their own
    records = CheckRecords(str(shared / "records"))
    records.record(KEY, True)
    assert not (shared / "records").exists()
    assert records.lookup(KEY) is None


def test_a_symlinked_folder_is_not_used(folder, tmp_path):
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    os.symlink(real, folder)
    records = CheckRecords(folder)
    records.record(KEY, True)
    assert os.listdir(real) == []
    assert records.lookup(KEY) is None


@needs_root
def test_a_folder_owned_by_another_user_is_not_used(folder):
    os.mkdir(folder, 0o700)
    os.chown(folder, NOBODY, NOBODY)
    records = CheckRecords(folder)
    records.record(KEY, True)
    assert os.listdir(folder) == []


def test_records_are_off_with_an_empty_or_relative_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("POOLTUI_CACHE_DIR", "")
    assert checkrecords.default_directory() == ""
    CheckRecords().record(KEY, True)
    assert CheckRecords().lookup(KEY) is None
    monkeypatch.chdir(tmp_path)
    CheckRecords("records").record(KEY, True)
    assert os.listdir(tmp_path) == []


def test_roots_records_are_in_var_cache_unless_told(monkeypatch):
    monkeypatch.delenv("POOLTUI_CACHE_DIR", raising=False)
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert checkrecords.default_directory() == "/var/cache/pooltui"
