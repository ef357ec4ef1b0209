"""Resumable, checksummed downloads against a local HTTP server, and archive extraction that refuses
members escaping the target folder."""
from __future__ import annotations

import hashlib
import io
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from audiokit.corpora.download import EXTRACTED_MARKER, ArchiveError, DownloadError, download, extract

DATA = bytes(range(256)) * 9000 + b"tail"  # 2.2 MB: several 1 MiB chunks


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ------------------------------------------------------------------------------------------ download
def test_download_verifies_then_skips_an_existing_file(server, tmp_path):
    url = server.serve("/data.bin", DATA)
    dest = download(url, tmp_path / "data.bin", sha256=sha256(DATA), md5=hashlib.md5(DATA).hexdigest(),
                    progress=False)
    assert dest.read_bytes() == DATA and not (tmp_path / "data.bin.part").exists()
    assert server.requests == [("/data.bin", None)]
    again = download(url, dest, sha256=sha256(DATA), progress=False)
    assert again == dest and len(server.requests) == 1  # no second request


def test_download_resumes_a_partial_file_with_a_range_request(server, tmp_path):
    url = server.serve("/data.bin", DATA)
    (tmp_path / "data.bin.part").write_bytes(DATA[:1_000_000])
    dest = download(url, tmp_path / "data.bin", sha256=sha256(DATA), progress=False)
    assert dest.read_bytes() == DATA
    assert server.requests == [("/data.bin", "bytes=1000000-")]
    assert server.sent == [len(DATA) - 1_000_000]  # only the missing bytes travelled


def test_download_restarts_when_the_server_ignores_range(server, tmp_path):
    url = server.serve("/data.bin", DATA, mode="no-range")
    (tmp_path / "data.bin.part").write_bytes(DATA[:1000])  # appending the whole file would corrupt it
    dest = download(url, tmp_path / "data.bin", sha256=sha256(DATA), progress=False)
    assert dest.read_bytes() == DATA
    assert server.requests == [("/data.bin", "bytes=1000-")] and server.sent == [len(DATA)]


def test_download_finishes_a_partial_file_that_is_already_whole(server, tmp_path):
    url = server.serve("/data.bin", DATA)
    (tmp_path / "data.bin.part").write_bytes(DATA)  # interrupted between the last byte and the rename
    dest = download(url, tmp_path / "data.bin", sha256=sha256(DATA), progress=False)
    assert dest.read_bytes() == DATA and server.sent == []  # the server answered 416, no body


def test_dropped_connection_keeps_the_part_and_a_rerun_resumes(server, tmp_path):
    url = server.serve("/data.bin", DATA, mode="drop")
    with pytest.raises(DownloadError, match=r"run again to resume"):
        download(url, tmp_path / "data.bin", sha256=sha256(DATA), progress=False, retries=0)
    part = tmp_path / "data.bin.part"
    assert part.read_bytes() == DATA[: len(DATA) // 2] and not (tmp_path / "data.bin").exists()
    server.httpd.modes["/data.bin"] = "normal"
    dest = download(url, tmp_path / "data.bin", sha256=sha256(DATA), progress=False)
    assert dest.read_bytes() == DATA and server.requests[-1] == ("/data.bin", f"bytes={len(DATA) // 2}-")


def test_checksum_mismatch_is_an_error_and_leaves_no_file(server, tmp_path):
    url = server.serve("/data.bin", DATA)
    wrong = sha256(b"something else")
    with pytest.raises(DownloadError) as err:
        download(url, tmp_path / "data.bin", sha256=wrong, progress=False)
    msg = str(err.value)
    assert "'data.bin'" in msg and f"expected {wrong}" in msg and f"got {sha256(DATA)}" in msg
    assert list(tmp_path.iterdir()) == []


def test_http_errors_and_bad_digests_are_clear(server, tmp_path):
    url = server.serve("/data.bin", DATA)
    with pytest.raises(DownloadError, match=r"/missing.bin failed: HTTP 404"):
        download(url.replace("data.bin", "missing.bin"), tmp_path / "m.bin", progress=False)
    with pytest.raises(DownloadError, match=r"sha256 must be 64 hex digits"):
        download(url, tmp_path / "d.bin", sha256="abc", progress=False)
    (tmp_path / "d.bin").write_bytes(b"old")
    with pytest.raises(DownloadError, match=r"exists but its checksum does not match"):
        download(url, tmp_path / "d.bin", sha256=sha256(DATA), progress=False)
    assert (tmp_path / "d.bin").read_bytes() == b"old" and server.requests == [("/missing.bin", None)]


# ------------------------------------------------------------------------------------------ extract
def _tar(path: Path, members: list[tuple[str, str, bytes | str]], mode: str = "w:gz") -> Path:
    """Members: (kind, name, data or link target), kind one of file, dir, symlink, hardlink, fifo, chr."""
    with tarfile.open(path, mode) as tar:
        for kind, name, payload in members:
            info = tarfile.TarInfo(name)
            if kind == "file":
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))
                continue
            info.type = {"dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE,
                         "fifo": tarfile.FIFOTYPE, "chr": tarfile.CHRTYPE}[kind]
            if kind in ("symlink", "hardlink"):
                info.linkname = payload
            tar.addfile(info)
    return path


def _zip(path: Path, members: list[tuple[str, str, bytes | str]]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for kind, name, payload in members:
            if kind == "symlink":
                info = zipfile.ZipInfo(name)
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
                zf.writestr(info, payload)
            else:
                zf.writestr(name, payload)
    return path


def _nothing_extracted(tmp_path: Path, archive: Path) -> bool:
    return sorted(p.name for p in tmp_path.iterdir()) == [archive.name]


OK = ("file", "ok.txt", b"fine")
BAD_TAR = {  # case: (members, the member the error must name)
    "dotdot": ([OK, ("file", "../evil", b"x")], "../evil"),
    "dotdot-inside-path": ([OK, ("file", "a/../../evil", b"x")], "a/../../evil"),
    "absolute": ([OK, ("file", "/tmp/audiokit-evil", b"x")], "/tmp/audiokit-evil"),
    "symlink-absolute": ([OK, ("symlink", "etc", "/etc")], "etc"),
    "symlink-up": ([OK, ("symlink", "up", "../../outside")], "up"),
    "hardlink-outside": ([OK, ("hardlink", "hard", "../outside")], "hard"),
    "file-through-symlink": ([OK, ("symlink", "sub", "d"), ("file", "sub/x", b"x")], "sub/x"),
    "symlink-through-symlink": ([OK, ("symlink", "self", "."), ("symlink", "esc", "self/..")], "esc"),
    "symlink-chain": ([OK, ("symlink", "x", "d/.."), ("symlink", "d", ".")], "x"),  # x -> d/.. -> ./.. later
    "fifo": ([OK, ("fifo", "pipe", "")], "pipe"),
    "device": ([OK, ("chr", "tty", "")], "tty"),
}


@pytest.mark.parametrize("case", sorted(BAD_TAR))
def test_tar_members_escaping_the_target_are_refused(tmp_path, case):
    members, culprit = BAD_TAR[case]
    archive = _tar(tmp_path / "bad.tar.gz", members)
    with pytest.raises(ArchiveError) as err:
        extract(archive, tmp_path / "out", progress=False)
    assert "bad.tar.gz" in str(err.value) and f"'{culprit}'" in str(err.value)
    assert _nothing_extracted(tmp_path, archive)  # no out/, no temp folder, no ok.txt anywhere


BAD_ZIP = {
    "dotdot": ([OK, ("file", "../evil", b"x")], "../evil"),
    "absolute": ([OK, ("file", "/tmp/audiokit-evil", b"x")], "/tmp/audiokit-evil"),
    "backslash-dotdot": ([OK, ("file", "..\\evil", b"x")], "..\\evil"),
    "symlink-to-etc": ([OK, ("symlink", "etc", "/etc")], "etc"),
    "symlink-chain": ([OK, ("symlink", "x", "d/.."), ("symlink", "d", ".")], "x"),
}


@pytest.mark.parametrize("case", sorted(BAD_ZIP))
def test_zip_members_escaping_the_target_are_refused(tmp_path, case):
    members, culprit = BAD_ZIP[case]
    archive = _zip(tmp_path / "bad.zip", members)
    with pytest.raises(ArchiveError) as err:
        extract(archive, tmp_path / "out", progress=False)
    assert "bad.zip" in str(err.value) and f"'{culprit}'" in str(err.value)
    assert _nothing_extracted(tmp_path, archive)


@pytest.mark.parametrize("fmt", ["tar", "tar.gz", "tgz", "tar.bz2", "zip"])
def test_good_archive_extracts_once(tmp_path, fmt):
    members = [("dir", "pack", ""), ("dir", "pack/Train", ""), ("file", "pack/Train/a.wav", b"A" * 100),
               ("file", "pack/notes.txt", b"hello"), ("symlink", "pack/Val", "Train")]
    if fmt == "zip":
        archive = _zip(tmp_path / "good.zip", [m for m in members if m[0] != "dir"])
    else:
        mode = {"tar": "w", "tar.gz": "w:gz", "tgz": "w:gz", "tar.bz2": "w:bz2"}[fmt]
        archive = _tar(tmp_path / f"good.{fmt}", members, mode)
    out = extract(archive, tmp_path / "out", progress=False)
    assert (out / "pack" / "Train" / "a.wav").read_bytes() == b"A" * 100
    assert (out / "pack" / "notes.txt").read_text() == "hello"
    assert (out / "pack" / "Val").is_symlink() and (out / "pack" / "Val" / "a.wav").read_bytes() == b"A" * 100
    assert (out / EXTRACTED_MARKER).is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([archive.name, "out"])  # no temp folder left
    (out / "pack" / "notes.txt").unlink()
    assert extract(archive, tmp_path / "out", progress=False) == out
    assert not (out / "pack" / "notes.txt").exists()  # the marker made the re-run skip the work


def test_strip_top_dir_and_refusals_of_foreign_folders(tmp_path):
    archive = _tar(tmp_path / "pack.tgz", [("file", "pack/Train/a.wav", b"A"), ("file", "pack/Test/b.wav", b"B")])
    out = extract(archive, tmp_path / "data", strip_top_dir=True, progress=False)
    assert sorted(p.name for p in out.iterdir()) == sorted(["Train", "Test", EXTRACTED_MARKER])
    other = tmp_path / "other"
    (other / "x").mkdir(parents=True)
    with pytest.raises(ArchiveError, match=r"'.*other' exists but was not made by extracting"):
        extract(archive, other, progress=False)
    (tmp_path / "junk.tgz").write_bytes(b"not an archive at all")
    with pytest.raises(ArchiveError, match=r"junk.tgz' is not a tar .* or zip archive"):
        extract(tmp_path / "junk.tgz", tmp_path / "junk", progress=False)
