"""The C++ effect host (``effect_host.cpp``), built against the libtorch inside the torch wheel.

    python -m audiokit.export.host build/effect_host     # or build_host("build/effect_host")
    build/effect_host fx.ts in.wav out.wav --block 128 --knobs 0.3,0.7

No CMake or separate libtorch download: the wheel ships the headers and shared libraries, and the
binary records their folder as its run path.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from pathlib import Path

from audiokit.utils import AudiokitError, atomic_path

SOURCE = Path(__file__).with_name("effect_host.cpp")


def compile_command(out: str | os.PathLike, cxx: str | None = None) -> list[str]:
    import torch

    root = os.path.dirname(torch.__file__)
    include = [os.path.join(root, "include"), os.path.join(root, "include", "torch", "csrc", "api", "include")]
    lib = os.path.join(root, "lib")
    abi = int(torch._C._GLIBCXX_USE_CXX11_ABI)
    cmd = [cxx or os.environ.get("CXX", "g++"), "-O2", "-std=c++20", f"-D_GLIBCXX_USE_CXX11_ABI={abi}",
           *(f"-I{p}" for p in include), str(SOURCE), "-o", str(out), f"-L{lib}", f"-Wl,-rpath,{lib}",
           "-ltorch", "-ltorch_cpu", "-lc10", "-Wl,--disable-new-dtags"]  # RPATH: also for deps of deps
    # Gray-box filters trace to torchaudio's lfilter op: link torchaudio's op library when it is installed
    # (--no-as-needed keeps it although no symbol is referenced: loading it registers the ops).
    spec = importlib.util.find_spec("torchaudio")
    audio_lib = os.path.join(os.path.dirname(spec.origin), "lib") if spec and spec.origin else None
    if audio_lib and os.path.isfile(os.path.join(audio_lib, "libtorchaudio.abi3.so")):
        cmd += ["-Wl,--no-as-needed", f"-L{audio_lib}", "-l:libtorchaudio.abi3.so", f"-Wl,-rpath,{audio_lib}",
                "-Wl,--as-needed"]
    return cmd


def build_host(out: str | os.PathLike, force: bool = False) -> Path:
    """Compile the host to ``out`` (about a minute); skipped when ``out`` is newer than the source."""
    out = Path(out)
    if not force and out.is_file() and out.stat().st_mtime >= SOURCE.stat().st_mtime:
        return out
    cmd = compile_command(out)
    if shutil.which(cmd[0]) is None:
        raise AudiokitError(f"building the C++ host needs a C++20 compiler: '{cmd[0]}' not found (set $CXX)")
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        cmd[cmd.index("-o") + 1] = str(tmp)
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise AudiokitError(f"compiling {SOURCE.name} failed:\n{proc.stderr[-4000:]}")
    os.chmod(out, 0o755)  # after the rename: atomic_path gives files the default mode
    return out

