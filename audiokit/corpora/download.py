"""Fetching real corpora: resumable, checksummed HTTP(S) downloads and safe archive extraction.

    archive = download(url, root / "corpus.tgz", md5="...")      # resumes root/corpus.tgz.part
    data = extract(archive, root / "corpus")                       # refuses members escaping root/corpus

``download`` streams into ``<dest>.part``, asking the server to continue where a previous attempt
stopped (an HTTP ``Range`` request); a server that ignores the request answers with the whole file,
which then replaces the partial one. The checksum is verified before ``<dest>.part`` is renamed to
``dest``, so ``dest`` exists only when complete and correct, and a re-run with ``dest`` present and
matching returns at once.

``extract`` unpacks ``.tar``, ``.tar.gz``/``.tgz``, ``.tar.bz2``, ``.tar.xz`` and ``.zip`` archives into
a temporary folder next to ``dest`` and renames it to ``dest`` when every member is out, with a marker
file inside (``.audiokit-extracted``) so a re-run skips the work. Members that would write outside
``dest`` are refused before anything lands: absolute paths, ``..`` components, paths through a link,
symbolic or hard links that point outside, and device or FIFO entries.
"""
from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import shutil
import stat
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from audiokit.utils import AudiokitError
from audiokit.version import __version__

__all__ = ["DownloadError", "ArchiveError", "download", "extract", "file_digest", "EXTRACTED_MARKER"]

EXTRACTED_MARKER = ".audiokit-extracted"
_CHUNK = 1 << 20
_HEX = re.compile(r"^[0-9a-fA-F]+$")
_DIGEST_SIZES = {"sha256": 64, "md5": 32}
_HAS_FILTERS = hasattr(tarfile, "data_filter")  # extraction filters: Python >= 3.12, 3.11.4+, 3.10.12+


class DownloadError(AudiokitError, OSError):
    """A download failed (network, HTTP status, checksum); the message names the URL or file."""


class ArchiveError(AudiokitError, ValueError):
    """An archive is unreadable, of an unknown type, or holds a member that may not be extracted."""


class _Retryable(Exception):
    """A transient failure (connection reset, timeout, early end of body): worth resuming."""


class _RangeNotSatisfiable(Exception):
    """HTTP 416 to a Range request: the partial file already reaches (or passes) the end of the remote one."""

    def __init__(self, total: int | None):
        super().__init__(total)
        self.total = total


# ------------------------------------------------------------------------------------------ checksums
def file_digest(path: str | os.PathLike, algorithm: str = "sha256", progress: bool = False) -> str:
    """Hex digest of a file's bytes, read in 1 MiB chunks."""
    path = Path(path)
    h = hashlib.new(algorithm)
    with _bar(path.stat().st_size, f"checking {path.name}", progress) as bar, open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
            bar.update(len(chunk))
    return h.hexdigest()


def _expected_digests(sha256: str | None, md5: str | None) -> dict[str, str]:
    out = {}
    for name, value in (("sha256", sha256), ("md5", md5)):
        if value is None:
            continue
        if not isinstance(value, str) or len(value) != _DIGEST_SIZES[name] or not _HEX.match(value):
            raise DownloadError(f"{name} must be {_DIGEST_SIZES[name]} hex digits, got {value!r}")
        out[name] = value.lower()
    return out


def _mismatches(hashers: dict, expected: dict[str, str]) -> list[str]:
    return [f"{name} expected {want}, got {hashers[name].hexdigest()}"
            for name, want in expected.items() if hashers[name].hexdigest() != want]


def _bar(total: int | None, desc: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="B", unit_scale=True, unit_divisor=1024, disable=not enabled,
                dynamic_ncols=True)


# ------------------------------------------------------------------------------------------ download
def _open(url: str, offset: int, timeout: float):
    """GET ``url``, from byte ``offset`` if > 0 (raising :class:`_RangeNotSatisfiable` when the server
    answers that ``offset`` is at or past the end of the file)."""
    headers = {"User-Agent": f"audiokit/{__version__}"}
    if offset > 0:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        return urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and offset > 0:
            match = re.match(r"bytes \*/(\d+)", e.headers.get("Content-Range", "") if e.headers else "")
            raise _RangeNotSatisfiable(int(match.group(1)) if match else None) from None
        if e.code in (408, 429, 500, 502, 503, 504):
            raise _Retryable(f"HTTP {e.code} {e.reason}") from None
        raise DownloadError(f"download of {url} failed: HTTP {e.code} {e.reason}") from None
    except (urllib.error.URLError, TimeoutError, ConnectionError, http.client.HTTPException) as e:
        reason = getattr(e, "reason", e)
        raise _Retryable(f"cannot reach the server ({reason})") from None


def _resume_offset(response, offset: int) -> int:
    """Where the body of ``response`` starts in the file: ``offset`` for a matching 206 answer, 0 when the
    server ignored the Range request and sends the whole file (status 200)."""
    if offset == 0 or response.status == 200:
        return 0
    content_range = response.headers.get("Content-Range", "")
    match = re.match(r"bytes (\d+)-", content_range)
    if response.status != 206 or match is None or int(match.group(1)) != offset:
        return -1  # a partial answer that does not continue our file: start again without Range
    return offset


def _fetch(url: str, part: Path, hashers: dict, timeout: float, progress: bool) -> None:
    """One attempt: continue ``part`` from its current size to the end of the remote file."""
    offset = part.stat().st_size if part.exists() else 0
    try:
        response = _open(url, offset, timeout)
    except _RangeNotSatisfiable as e:
        if e.total is None or e.total == offset:  # the partial file is whole already
            _rehash(part, hashers)
            return
        part.unlink()  # longer than the remote file: not a prefix of it
        return _fetch(url, part, hashers, timeout, progress)
    with response:
        start = _resume_offset(response, offset)
        if start < 0:
            response.close()
            part.unlink()
            return _fetch(url, part, hashers, timeout, progress)
        length = response.headers.get("Content-Length")
        total = start + int(length) if length is not None else None
        if start > 0:
            _rehash(part, hashers)  # the bytes already there count towards the checksum
        else:
            for name in hashers:
                hashers[name] = hashlib.new(name)
        received = start
        with open(part, "ab" if start > 0 else "wb") as f, _bar(total, part.name[:-5], progress) as bar:
            bar.update(start)
            try:
                for chunk in iter(lambda: response.read(_CHUNK), b""):
                    f.write(chunk)
                    for h in hashers.values():
                        h.update(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
            except (TimeoutError, ConnectionError, http.client.HTTPException) as e:
                raise _Retryable(f"connection lost after {received} bytes ({e})") from None
        if total is not None and received < total:
            raise _Retryable(f"connection closed after {received} of {total} bytes")


def _rehash(path: Path, hashers: dict) -> None:
    for name in hashers:
        hashers[name] = hashlib.new(name)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            for h in hashers.values():
                h.update(chunk)


def download(
    url: str,
    dest: str | os.PathLike,
    sha256: str | None = None,
    md5: str | None = None,
    progress: bool = True,
    retries: int = 3,
    timeout: float = 60.0,
) -> Path:
    """Download ``url`` to ``dest`` (resumable, verified); return ``dest``.

    Args:
        url: http(s) address of the file.
        dest: where the file goes; bytes accumulate in ``<dest>.part`` until the whole file is there and
            its checksums match, then it is renamed to ``dest``.
        sha256, md5: expected hex digests (either, both, or none: then the file is not verified).
        progress: show a progress bar.
        retries: how many times a dropped connection, timeout or 5xx answer is retried (resuming from
            the ``.part`` file, after 1, 2, 4... seconds) before giving up with :class:`DownloadError`.
        timeout: seconds without data before a connection counts as dropped.

    If ``dest`` already exists it is returned as is when it matches the checksums (or none were given);
    one that does not match is an error (it is not overwritten). A checksum mismatch after downloading
    deletes ``<dest>.part`` (resuming it could only reproduce the mismatch) and raises.
    """
    dest = Path(dest)
    expected = _expected_digests(sha256, md5)
    if dest.exists():
        wrong = [f"{name} expected {want}, got {got}" for name, want in expected.items()
                 if (got := file_digest(dest, name, progress)) != want]
        if wrong:
            raise DownloadError(f"'{dest}' exists but its checksum does not match ({'; '.join(wrong)}); "
                                f"delete it to download it again from {url}")
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    hashers = {name: hashlib.new(name) for name in expected}
    for attempt in range(retries + 1):
        try:
            _fetch(url, part, hashers, timeout, progress)
            break
        except _Retryable as e:
            if attempt == retries:
                raise DownloadError(f"download of {url} failed after {retries + 1} attempt(s): {e}; the "
                                    f"partial file '{part}' is kept, run again to resume") from None
            time.sleep(min(2.0 ** attempt, 30.0))
    wrong = _mismatches(hashers, expected)
    if wrong:
        part.unlink(missing_ok=True)
        raise DownloadError(f"checksum mismatch for '{dest.name}' downloaded from {url}: {'; '.join(wrong)}; "
                            f"the download was deleted")
    os.replace(part, dest)
    return dest


# ------------------------------------------------------------------------------------------ extract
def _member_path(archive: Path, name: str) -> PurePosixPath:
    """The member's path relative to the target folder; refuses absolute paths and ``..``."""
    posix = name.replace("\\", "/")
    path = PurePosixPath(posix)
    if posix.startswith("/") or re.match(r"^[A-Za-z]:", posix):
        raise ArchiveError(f"'{archive}': member '{name}' has an absolute path; refusing to extract the archive")
    if ".." in path.parts:
        raise ArchiveError(f"'{archive}': member '{name}' contains '..' (it could land outside the target "
                           f"folder); refusing to extract the archive")
    parts = [p for p in path.parts if p not in ("", ".")]
    if not parts:
        raise ArchiveError(f"'{archive}': member '{name}' has an empty path; refusing to extract the archive")
    return PurePosixPath(*parts)


class _Guard:
    """Checks members one by one, remembering links so that nothing is written through one."""

    def __init__(self, archive: Path):
        self.archive = archive
        self.links: set[PurePosixPath] = set()

    def path(self, name: str) -> PurePosixPath:
        path = _member_path(self.archive, name)
        for parent in list(path.parents)[:-1]:
            if parent in self.links:
                raise ArchiveError(f"'{self.archive}': member '{name}' lies under the link '{parent}'; "
                                   f"refusing to extract the archive")
        return path

    def link(self, path: PurePosixPath, target: str, hard: bool) -> None:
        """A link's target must stay inside the target folder (symlinks: relative to the link's folder;
        hard links: relative to the archive root), without passing through another link."""
        kind = "hard link" if hard else "symlink"
        posix = target.replace("\\", "/")
        where = f"'{self.archive}': {kind} '{path}' points to"
        if posix.startswith("/") or re.match(r"^[A-Za-z]:", posix):
            raise ArchiveError(f"{where} the absolute path '{target}' outside the target folder; refusing to "
                               f"extract the archive")
        parts = PurePosixPath(posix).parts
        base = [] if hard else list(path.parent.parts)
        for i, part in enumerate(parts):
            if part == "..":
                if not base:
                    raise ArchiveError(f"{where} '{target}', outside the target folder; refusing to extract "
                                       f"the archive")
                base.pop()
            elif part != ".":
                base.append(part)
                if i < len(parts) - 1 and PurePosixPath(*base) in self.links:
                    raise ArchiveError(f"{where} '{target}', through the link '{PurePosixPath(*base)}'; "
                                       f"refusing to extract the archive")
        self.links.add(path)


def _check_links_inside(archive: Path, folder: Path) -> None:
    """Every symlink extracted into ``folder`` must resolve inside it (catches chains of links that each
    looked harmless, e.g. ``a -> .`` and a link made earlier that goes ``a/..``)."""
    top = os.path.realpath(folder)
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            if os.path.islink(path):
                resolved = os.path.realpath(path)
                if os.path.commonpath([top, resolved]) != top:
                    member = Path(path).relative_to(folder).as_posix()
                    raise ArchiveError(f"'{archive}': symlink '{member}' resolves to '{resolved}', outside the "
                                       f"target folder; refusing to extract the archive")


def _tar_members(archive: Path, tar: tarfile.TarFile, guard: _Guard) -> Iterator[tarfile.TarInfo]:
    for member in tar:
        path = guard.path(member.name)
        if member.ischr() or member.isblk() or member.isfifo():
            kind = "FIFO" if member.isfifo() else "device"
            raise ArchiveError(f"'{archive}': member '{member.name}' is a {kind}; refusing to extract the archive")
        if member.issym() or member.islnk():
            guard.link(path, member.linkname, hard=member.islnk())
        elif not (member.isfile() or member.isdir()):
            raise ArchiveError(f"'{archive}': member '{member.name}' has an unsupported type "
                               f"({member.type!r}); refusing to extract the archive")
        member.name = path.as_posix()
        yield member


def _extract_tar(archive: Path, into: Path, progress: bool) -> None:
    from tqdm.auto import tqdm

    guard = _Guard(archive)
    with tarfile.open(archive, "r:*") as tar, tqdm(desc=f"extracting {archive.name}", unit="file",
                                                   disable=not progress, dynamic_ncols=True) as bar:
        for member in _tar_members(archive, tar, guard):
            # The "data" filter re-checks every member and drops owners and special permission bits;
            # the checks above come first so that the error names the problem.
            if _HAS_FILTERS:
                try:
                    tar.extract(member, into, filter="data")
                except tarfile.FilterError as e:
                    raise ArchiveError(f"'{archive}': member '{member.name}' refused: {e}") from None
            else:
                tar.extract(member, into)
            bar.update(1)


def _extract_zip(archive: Path, into: Path, progress: bool) -> None:
    from tqdm.auto import tqdm

    guard = _Guard(archive)
    with zipfile.ZipFile(archive) as zf:
        infos = zf.infolist()
        plan = []
        for info in infos:  # check everything before writing anything
            path = guard.path(info.filename)
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                guard.link(path, zf.read(info).decode("utf-8"), hard=False)
            elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
                raise ArchiveError(f"'{archive}': member '{info.filename}' is a device, FIFO or socket; "
                                   f"refusing to extract the archive")
            plan.append((info, path, mode))
        for info, path, mode in tqdm(plan, desc=f"extracting {archive.name}", unit="file", disable=not progress,
                                     dynamic_ncols=True):
            out = into.joinpath(*path.parts)
            if info.is_dir():
                out.mkdir(parents=True, exist_ok=True)
                continue
            out.parent.mkdir(parents=True, exist_ok=True)
            if stat.S_ISLNK(mode):
                os.symlink(zf.read(info).decode("utf-8"), out)
                continue
            with zf.open(info) as src, open(out, "wb") as dst:
                shutil.copyfileobj(src, dst, _CHUNK)


def _archive_kind(archive: Path) -> str:
    if not archive.is_file():
        raise ArchiveError(f"archive not found: '{archive}'")
    if zipfile.is_zipfile(archive):
        return "zip"
    try:
        if tarfile.is_tarfile(archive):
            return "tar"
    except (OSError, EOFError, tarfile.TarError):
        pass
    raise ArchiveError(f"'{archive}' is not a tar (.tar, .tar.gz, .tgz, .tar.bz2, .tar.xz) or zip archive, "
                       f"or it is damaged")


def _marker_record(archive: Path) -> dict:
    return {"archive": archive.name, "size": archive.stat().st_size}


def _is_extracted(dest: Path, archive: Path) -> bool:
    marker = dest / EXTRACTED_MARKER
    if not marker.is_file():
        if dest.is_dir() and not any(dest.iterdir()):
            dest.rmdir()  # an empty folder made beforehand: take its place
            return False
        if dest.exists() or dest.is_symlink():
            raise ArchiveError(f"'{dest}' exists but was not made by extracting an archive (no {EXTRACTED_MARKER} "
                               f"in it); move it away or extract '{archive.name}' elsewhere")
        return False
    try:
        record = json.loads(marker.read_text(encoding="utf-8"))
    except ValueError:
        record = None
    if record != _marker_record(archive):
        raise ArchiveError(f"'{dest}' holds another extraction ({marker}: {record}); move it away to extract "
                           f"'{archive}' there")
    return True


def extract(archive: str | os.PathLike, dest: str | os.PathLike, strip_top_dir: bool = False,
            progress: bool = True) -> Path:
    """Extract ``archive`` into the new folder ``dest`` (all or nothing); return ``dest``.

    Args:
        archive: a tar (optionally gzip/bzip2/xz-compressed) or zip file; the type is read from its bytes.
        dest: the folder to create. It must not exist, unless an earlier ``extract`` of the same archive
            made it (its ``.audiokit-extracted`` marker names the archive and its size): then nothing is done.
        strip_top_dir: if every member lies in one top-level folder, put that folder's contents in
            ``dest`` (``tar --strip-components=1``), so ``dest`` does not end up holding a single folder.
        progress: show a progress bar.

    Raises :class:`ArchiveError` naming the archive and the member for absolute paths, ``..``, paths
    through links, links pointing outside ``dest``, and device/FIFO members; ``dest`` is then not created.
    Stale temporary folders of an interrupted earlier run (``.<dest name>.extracting-*``) are removed.
    """
    archive, dest = Path(archive), Path(dest)
    kind = _archive_kind(archive)
    if _is_extracted(dest, archive):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{dest.name}.extracting-"
    for stale in dest.parent.glob(prefix + "*"):
        shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=dest.parent))
    try:
        (_extract_zip if kind == "zip" else _extract_tar)(archive, tmp, progress)
        _check_links_inside(archive, tmp)
        root = tmp
        entries = list(tmp.iterdir())
        if strip_top_dir and len(entries) == 1 and entries[0].is_dir() and not entries[0].is_symlink():
            root = entries[0]
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes the folder private (0700)
        (root / EXTRACTED_MARKER).write_text(json.dumps(_marker_record(archive)) + "\n", encoding="utf-8")
        os.replace(root, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def fetch_corpus_archive(root: str | os.PathLike, locate, *, url: str, archive_name: str, md5: str | None,
                         dataset_dir: str, progress: bool = True, keep_archive: bool = True) -> None:
    """Make sure a one-archive corpus is unpacked under ``root``: nothing to do when ``locate(root)``
    finds a tree there (it raises on a partial one); else download ``url`` to ``root/archive_name``
    (resumable, checked against ``md5``) and unpack it to ``root/dataset_dir``, then drop the archive
    unless ``keep_archive``. The corpus module's ``find_dataset_dir`` then says where the tree is."""
    root = Path(root)
    if root.is_dir() and locate(root) is not None:
        return
    archive = download(url, root / archive_name, md5=md5, progress=progress)
    extract(archive, root / dataset_dir, strip_top_dir=True, progress=progress)
    if not keep_archive:
        archive.unlink()
