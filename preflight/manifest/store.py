"""The manifest database: opening, locking, and writing the parse cache and derived tables.

DuckDB errors are caught here, once, and re-raised as ``ManifestError`` with a fix the user can
act on. Every update of a scan runs in one transaction: a scan killed half-way leaves the
manifest as it was before.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from preflight import signals
from preflight.errors import ManifestError
from preflight.manifest import schema

if TYPE_CHECKING:
    import pyarrow as pa

DEFAULT_DIRNAME = ".preflight"
DEFAULT_FILENAME = "manifest.duckdb"


class ManifestKind(StrEnum):
    """What a manifest describes, which decides its tables and the suite that gates it."""

    RECORDINGS = "recordings"  # EEG: recordings, seizure events, a row per window
    TABLES = "tables"  # Parquet: a file stands for a recording, exact row counts per file


def default_path(root: Path) -> Path:
    """Where the manifest lives by default: ``<data root>/.preflight/manifest.duckdb``."""
    base = root if root.is_dir() else root.parent
    return base / DEFAULT_DIRNAME / DEFAULT_FILENAME


def find_manifest(given: Path | None = None) -> Path:
    """The manifest a command reads: ``given`` (a manifest file, or a folder holding one in
    ``.preflight/``), or with nothing given, the current folder's.

    Args:
        given: a manifest file, a corpus folder, or a ``.preflight`` folder; None for the
            current folder.

    Raises:
        ManifestError: no manifest where it was looked for; the message says where it looked
            and names manifests found in the folders below, if any.
    """
    base = Path(".") if given is None else given
    if given is not None and not given.exists():
        raise ManifestError("no such file or folder", path=given)
    if base.is_file():
        return base
    candidates = [base / DEFAULT_DIRNAME / DEFAULT_FILENAME, base / DEFAULT_FILENAME]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    tried = " and ".join(str(c) for c in candidates)
    below = _manifests_below(base)
    hint = f"; found {', '.join(str(p) for p in below)} below" if below else ""
    raise ManifestError(
        f"no manifest found (looked for {tried}){hint}; pass a corpus folder, a run config or a "
        "manifest file, or run `preflight audit SOURCE` first",
        path=base.absolute(),
    )


def _tell_waiting(path: Path, error: str, wait_s: float) -> None:
    """``waiting for another audit of this manifest (pid N) ...`` on standard error.

    DuckDB names the holder only in its message (``Conflicting lock is held in ... (PID N)``);
    the pid is shown when it is there and the wait goes on either way.
    """
    from preflight.console import make_console

    pid = re.search(r"PID (\d+)", error)
    holder = f" (pid {pid.group(1)})" if pid else ""
    make_console(stderr=True).print(
        f"waiting for another audit of this manifest{holder} to finish, up to {wait_s:g} s: {path}",
        markup=False,
        highlight=False,
    )


def _manifests_below(base: Path, depth: int = 2, most: int = 3) -> list[Path]:
    """Up to ``most`` manifests in the folders at most ``depth`` levels below ``base``."""
    found: list[Path] = []
    level = [base]
    for _ in range(depth):
        below: list[Path] = []
        for folder in level:
            try:
                entries = sorted(os.scandir(folder), key=lambda e: e.name)
            except OSError:
                continue
            for entry in entries:
                if entry.is_dir(follow_symlinks=False) and entry.name != DEFAULT_DIRNAME:
                    candidate = Path(entry.path) / DEFAULT_DIRNAME / DEFAULT_FILENAME
                    if candidate.is_file():
                        found.append(candidate)
                    below.append(Path(entry.path))
            if len(found) >= most or len(below) > 200:  # a corpus root: do not walk it
                return found[:most]
        level = below
    return found[:most]


class Manifest:
    """An open manifest database.

    Use ``Manifest.open(path)`` (a context manager) rather than the constructor.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path, *, read_only: bool) -> None:
        self.con = con
        self.path = path
        self.read_only = read_only
        self._depth = 0  # nesting of transaction() blocks; only the outermost commits

    @classmethod
    def open(cls, path: str | Path, *, read_only: bool = False, wait_s: float = 30.0) -> Manifest:
        """Open (creating if needed) the manifest at ``path``.

        Args:
            path: the DuckDB file.
            read_only: open without taking the write lock.
            wait_s: how long to wait for another process holding the manifest.

        Raises:
            ManifestError: the file is not a DuckDB database, is newer than this preflight, or
                another process kept it locked for longer than ``wait_s``.
        """
        path = Path(path)
        if read_only and not path.exists():
            raise ManifestError("no manifest here; run `preflight audit SOURCE` first", path=path)
        if not read_only:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ManifestError(f"cannot create folder: {exc.strerror}", path=path) from exc
        con = _connect_waiting(path, read_only=read_only, wait_s=wait_s)
        manifest = cls(con, path, read_only=read_only)
        try:
            version = manifest._schema_version()
            if not read_only:
                manifest._migrate(version)
        except BaseException as exc:
            manifest.close()
            if isinstance(exc, duckdb.Error):
                raise manifest._failed(exc) from exc
            raise
        return manifest

    def close(self) -> None:
        """Close the connection and release the lock."""
        # A damaged file can fail to close: the error that matters is raised already.
        with contextlib.suppress(duckdb.Error):
            self.con.close()

    def __enter__(self) -> Manifest:
        return self

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        """Close; a DuckDB error inside the block (a damaged file, a full disk at commit) leaves
        it as one ``ManifestError`` naming the file and a fix: the manifest's one boundary."""
        self.close()
        if isinstance(exc, duckdb.Error):
            raise self._failed(exc) from exc

    def _failed(self, exc: duckdb.Error) -> BaseException:
        stop = signals.received()
        if stop is not None:  # DuckDB's "Query interrupted": the signal is what happened
            return stop
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "no space left" in str(exc).lower():
            return ManifestError(
                f"no space left on the manifest's disk ({text}); nothing was committed: free "
                "space or pass --manifest on another disk, then run again",
                path=self.path,
            )
        return ManifestError(
            f"the manifest cannot be read or written ({text}); it may be damaged or its disk "
            "full: delete it (an audit rebuilds it) or pass another --manifest",
            path=self.path,
        )

    def _schema_version(self) -> int | None:
        """The manifest's schema version; None for a new, empty database file.

        Raises:
            ManifestError: the file is another application's database, its version is not a
                number (damaged), or it is newer than this preflight.
        """
        tables = [r[0] for r in self.con.execute(
            "SELECT table_name FROM information_schema.tables ORDER BY 1"
        ).fetchall()]  # fmt: skip
        if not tables:
            return None
        version = self.meta("schema_version") if "meta" in tables else None
        if version is None:
            listed = ", ".join(tables[:5]) + (" ..." if len(tables) > 5 else "")
            raise ManifestError(
                f"not a preflight manifest: a DuckDB database holding other tables ({listed}) "
                "and no schema version; pass another --manifest (preflight never writes into it)",
                path=self.path,
            )
        if not version.isdecimal():
            raise ManifestError(
                f"manifest schema version {version!r} is not a number: the file is damaged; "
                "delete it (an audit rebuilds it) or pass another --manifest",
                path=self.path,
            )
        if int(version) > schema.SCHEMA_VERSION:
            raise ManifestError(
                f"manifest schema version {version} is newer than this preflight "
                f"(knows {schema.SCHEMA_VERSION}); upgrade preflight or use another --manifest",
                path=self.path,
            )
        return int(version)

    def _migrate(self, version: int | None) -> None:
        if version == schema.SCHEMA_VERSION:
            return  # current: no write, so an unchanged re-audit takes no write lock work
        schema.create_cache_tables(self.con, version)

    def _has_table(self, name: str) -> bool:
        row = self.con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]
        ).fetchone()
        return bool(row and row[0])

    def has_derived(self) -> bool:
        """True when the derived tables (recordings, windows ...) exist: for a Parquet source,
        ``window_counts`` stands for ``windows`` (see ``scanning.parquet_derive``)."""
        windows = "window_counts" if self.kind is ManifestKind.TABLES else "windows"
        return self._has_table(windows) and self._has_table("recordings")

    @property
    def kind(self) -> ManifestKind:
        """Recordings (an EEG corpus) or tables (Parquet), as the last scan recorded it."""
        return ManifestKind.TABLES if self.meta("format") == "parquet" else ManifestKind.RECORDINGS

    def meta(self, key: str) -> str | None:
        """A provenance value from the ``meta`` table."""
        row = self.con.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, values: dict[str, str]) -> None:
        """Write provenance values into the ``meta`` table."""
        self.con.executemany(
            "INSERT OR REPLACE INTO meta VALUES (?, ?)", [[k, v] for k, v in values.items()]
        )

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All-or-nothing: commit on success, roll back on any exception.

        Re-entrant: a block inside another joins it, and the outermost block commits or rolls
        back everything (so a split written during an audit lands with the audit or not at all).
        """
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self.con.execute("BEGIN TRANSACTION")
        self._depth = 1
        try:
            yield
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        finally:
            self._depth = 0
        self.con.execute("COMMIT")

    def insert(
        self, table: str, columns: Mapping[str, Sequence[Any]], types: pa.Schema | None = None
    ) -> None:
        """Bulk-insert column lists into ``table`` through Arrow (no per-row round trips)."""
        import pyarrow as pa  # here: an unchanged re-audit inserts nothing and never loads it

        arrow = pa.table(dict(columns), schema=types)
        if arrow.num_rows == 0:
            return
        self.con.register("_incoming", arrow)
        try:
            names = ", ".join(columns)
            self.con.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM _incoming")
        finally:
            self.con.unregister("_incoming")

    def delete_paths(self, paths: Sequence[str]) -> None:
        """Forget every cached row of the files in ``paths``."""
        if not paths:
            return
        import pyarrow as pa

        self.con.register("_gone", pa.table({"path": list(paths)}))
        try:
            for table, column in (
                ("files", "path"),
                ("edf_headers", "path"),
                ("ann_recordings", "source_path"),
                ("ann_events", "source_path"),
                ("ann_notes", "source_path"),
            ):
                self.con.execute(f"DELETE FROM {table} WHERE {column} IN (SELECT path FROM _gone)")
        finally:
            self.con.unregister("_gone")

    def query(
        self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None
    ) -> list[tuple[Any, ...]]:
        """Run a read query and return all rows."""
        return self.con.execute(sql, params).fetchall()


def _connect_waiting(path: Path, *, read_only: bool, wait_s: float) -> duckdb.DuckDBPyConnection:
    deadline = time.monotonic() + wait_s
    delay = 0.05
    told = False
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise ManifestError(
                    f"cannot open manifest ({str(exc).strip().splitlines()[0]}): the file may be "
                    "truncated or damaged; delete it (an audit rebuilds it) or pass another "
                    "--manifest",
                    path=path,
                ) from exc
            if not told:  # at once, not after the wait: a silent pause looks like a hang
                _tell_waiting(path, str(exc), wait_s)
                told = True
            if time.monotonic() >= deadline:
                raise ManifestError(
                    f"manifest is in use by another preflight process (waited {wait_s:g} s); "
                    "wait for it to finish or pass another --manifest",
                    path=path,
                ) from exc
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
        except duckdb.ConnectionException as exc:
            # DuckDB shares one database instance per file within a process: a second connection
            # must ask for the same mode. The manifest is healthy; another connection holds it.
            mode = "read-write" if read_only else "read-only"
            raise ManifestError(
                f"manifest is already open {mode} in this process (e.g. a notebook's "
                "Manifest.open); close that connection first, then try again",
                path=path,
            ) from exc
        except duckdb.Error as exc:
            raise ManifestError(
                f"not a usable manifest ({exc}); delete it or pass another --manifest", path=path
            ) from exc
