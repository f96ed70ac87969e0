"""The strategies workspace: `<data_dir>/strategies/<Name>/__init__.py`, Jesse's layout, so users can
copy their strategies in unchanged.

Names come from users, so every path is built from a validated, identifier-like name and then
checked to resolve inside the workspace. Writes never leave a half-written file: new content
goes to a temporary file in the same directory, is fsynced, then renamed over the old one;
new and forked strategies are assembled in a hidden temporary directory and renamed into place.

Times: `update_time` is the mtime of `__init__.py`. Linux filesystems do not report creation
times, so a strategy directory's own mtime serves as its `create_time`: candlewire sets it when
it creates the directory and restores it after each save (a save's rename would bump it).
"""

from __future__ import annotations

import ast
import errno
import keyword
import os
import re
import shutil
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from candlewire.errors import AlreadyExists, InvalidArgument, NotFound
from candlewire.strategies.templates import render

NAME_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
# Device names Windows reserves in any case and with any extension; refused so a workspace
# copied to Windows still works.
_RESERVED_NAMES = {"con", "prn", "aux", "nul"} | {f"{port}{n}" for port in ("com", "lpt") for n in range(1, 10)}
SOURCE_FILE = "__init__.py"
MAX_SOURCE_BYTES = 1024 * 1024
# A snapshot holds every Python file of the strategy's folder; this bounds what one session records.
MAX_SNAPSHOT_BYTES = 4 * 1024 * 1024
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


@dataclass(frozen=True)
class StrategyInfo:
    name: str
    create_time_ns: int
    update_time_ns: int
    size_bytes: int


@dataclass(frozen=True)
class StrategySnapshot:
    """The code a run executes: `__init__.py` and the folder's other Python files (path relative to the
    strategy folder, "/"-separated → text), recorded with the results so they stay explainable after edits."""

    source: str
    helper_files: dict[str, str] = field(default_factory=dict)


def validate_name(name: str, field: str = "name") -> str:
    """`name` if it can be a strategy (a Python class and a directory name), else InvalidArgument on `field`."""
    reason = None
    if not NAME_PATTERN.fullmatch(name or ""):
        reason = "must be 1-64 letters, digits or underscores, not starting with a digit"
    elif keyword.iskeyword(name):
        reason = "must not be a Python keyword"
    elif name.startswith("__"):
        reason = "must not start with two underscores (reserved for Python, e.g. __pycache__)"
    elif name.lower() in _RESERVED_NAMES:
        reason = "is a reserved device name"
    if reason:
        raise InvalidArgument(f"invalid strategy name {name!r}", {field: reason})
    return name


class StrategyWorkspace:
    def __init__(self, data_dir: Path):
        self.root = Path(data_dir) / "strategies"

    # --- reading -----------------------------------------------------------------------------

    def list(self, name_contains: str = "", page_size: int = 0, page_token: str = "") -> tuple[list[StrategyInfo], str]:
        """Strategies by name; a page and the token of the next one ("" on the last page).
        The token is the last name returned, so deleting or adding strategies never skips one."""
        if page_size < 0:
            raise InvalidArgument("page_size must not be negative", {"page_size": "must not be negative"})
        if page_token:
            validate_name(page_token, "page_token")
        page_size = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        needle = name_contains.casefold()
        names = sorted(
            entry.name
            for entry in (self.root.iterdir() if self.root.is_dir() else ())
            if _is_valid_name(entry.name)
            and needle in entry.name.casefold()
            and entry.name > page_token
            and self._inside(entry)
            and (entry / SOURCE_FILE).is_file()
        )
        page = [self.info(name) for name in names[:page_size]]
        return page, (page[-1].name if len(names) > page_size else "")

    def info(self, name: str) -> StrategyInfo:
        directory = self._existing(name)
        source = (directory / SOURCE_FILE).stat()
        return StrategyInfo(name, directory.stat().st_mtime_ns, source.st_mtime_ns, source.st_size)

    def source(self, name: str) -> str:
        return (self._existing(name) / SOURCE_FILE).read_text(encoding="utf-8")

    def snapshot(self, name: str, field: str = "name") -> StrategySnapshot:
        """The strategy's Python files as they are now. Hidden entries, `__pycache__` and links leading
        out of the folder are left out; non-UTF-8 or oversized contents are an InvalidArgument on `field`."""
        directory = self._existing(name)
        resolved = directory.resolve()
        helper_files: dict[str, str] = {}
        total = 0
        for path in sorted(directory.rglob("*.py")):
            relative = path.relative_to(directory)
            if relative.as_posix() == SOURCE_FILE or any(
                part.startswith(".") or part == "__pycache__" for part in relative.parts
            ):
                continue
            if not path.is_file() or not path.resolve().is_relative_to(resolved):
                continue
            data = path.read_bytes()
            total += len(data)
            if total > MAX_SNAPSHOT_BYTES:
                raise InvalidArgument(
                    f"strategy {name!r} is too large to snapshot",
                    {field: f"its folder's Python files exceed {MAX_SNAPSHOT_BYTES} bytes"},
                )
            try:
                helper_files[relative.as_posix()] = data.decode("utf-8")
            except UnicodeDecodeError:
                raise InvalidArgument(
                    f"strategy {name!r} has a file that is not UTF-8 text", {field: f"{relative.as_posix()} is not UTF-8"}
                ) from None
        return StrategySnapshot((directory / SOURCE_FILE).read_text(encoding="utf-8"), helper_files)

    # --- writing -----------------------------------------------------------------------------

    def create(self, name: str, template: str = "") -> StrategyInfo:
        self._refuse_taken(validate_name(name))
        source = render(template, name)
        staging = self._staging_dir()
        try:
            _write_atomically(staging / SOURCE_FILE, source)
            self._publish(staging, name)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return self.info(name)

    def save(self, name: str, source: str, field: str = "source") -> StrategyInfo:
        """Replace the source, valid or not: an editor saves work in progress, and a run validates
        the strategy before it starts (see `diagnostics.validate_source`)."""
        size = len(source.encode("utf-8"))
        if size > MAX_SOURCE_BYTES:
            raise InvalidArgument("strategy source too large", {field: f"must be at most {MAX_SOURCE_BYTES} bytes (is {size})"})
        directory = self._existing(name)
        created = directory.stat()
        _write_atomically(directory / SOURCE_FILE, source)
        os.utime(directory, ns=(created.st_atime_ns, created.st_mtime_ns))
        return self.info(name)

    def fork(self, name: str, new_name: str) -> StrategyInfo:
        """Copy the whole strategy directory (helper modules included) and rename its class."""
        validate_name(name)
        validate_name(new_name, "new_name")
        source_dir = self._existing(name)
        self._refuse_taken(new_name)
        staging = self._staging_dir()
        try:
            shutil.copytree(
                source_dir, staging, symlinks=True, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__")
            )
            _write_atomically(staging / SOURCE_FILE, rename_class(self.source(name), name, new_name))
            self._publish(staging, new_name)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return self.info(new_name)

    def delete(self, name: str) -> None:
        directory = self._existing(name)
        # Renamed away first, so the strategy disappears at once even if removing its files fails halfway.
        doomed = self.root / f".deleted-{uuid.uuid4().hex}"
        directory.rename(doomed)
        shutil.rmtree(doomed)

    # --- paths -------------------------------------------------------------------------------

    def _path(self, name: str, field: str = "name") -> Path:
        path = self.root / validate_name(name, field)
        if not self._inside(path):
            raise InvalidArgument(f"strategy {name!r} is outside the workspace", {field: "resolves outside the strategies directory"})
        return path

    def _inside(self, path: Path) -> bool:
        """False for a symlink leading out of the workspace."""
        return path.resolve().parent == self.root.resolve()

    def _existing(self, name: str) -> Path:
        path = self._path(name)
        source = path / SOURCE_FILE
        if not source.is_file():
            raise NotFound(f"strategy {name!r} not found")
        if source.resolve().parent != path.resolve():
            raise InvalidArgument(f"strategy {name!r} is outside the workspace", {"name": "its source file links out of the strategy directory"})
        return path

    def _refuse_taken(self, name: str) -> None:
        """Names differing only in case are taken too: they collide on macOS and Windows filesystems."""
        if self.root.is_dir():
            for entry in self.root.iterdir():
                if entry.name.casefold() == name.casefold():
                    raise AlreadyExists(f"strategy {entry.name!r} already exists")

    def _staging_dir(self) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        # A leading dot keeps it out of listings (not a valid name) while it is being filled.
        return Path(tempfile.mkdtemp(prefix=".staging-", dir=self.root))

    def _publish(self, staging: Path, name: str) -> None:
        target = self._path(name)
        # mkdtemp makes it private; a strategy directory is as readable as any other user file.
        staging.chmod(0o755)
        # The directory's mtime is the strategy's creation time (see the module docstring).
        os.utime(staging)
        try:
            # rename() replaces an existing *empty* directory on POSIX, so check first; a directory
            # appearing in between makes rename fail with ENOTEMPTY/EEXIST.
            if target.exists():
                raise AlreadyExists(f"strategy {name!r} already exists")
            staging.rename(target)
        except OSError as error:
            if error.errno in (errno.EEXIST, errno.ENOTEMPTY):
                raise AlreadyExists(f"strategy {name!r} already exists") from None
            raise
        _fsync_directory(self.root)


def rename_class(source: str, old_name: str, new_name: str) -> str:
    """`source` with its top-level `class old_name` renamed to `new_name`; unchanged when the source
    does not parse (validation then reports the misnamed class)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return source
    lines = source.splitlines(keepends=True)
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == old_name:
            # col_offset is in UTF-8 bytes; a top-level class statement starts at column 0 anyway.
            line = lines[node.lineno - 1]
            lines[node.lineno - 1] = re.sub(rf"^class\s+{old_name}\b", f"class {new_name}", line)
    return "".join(lines)


def _is_valid_name(name: str) -> bool:
    try:
        validate_name(name)
    except InvalidArgument:
        return False
    return True


def _write_atomically(path: Path, text: str) -> None:
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    """Makes a rename inside `directory` durable across a power loss."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
