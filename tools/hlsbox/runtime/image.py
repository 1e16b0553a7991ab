"""The pinned image: its base (pulled, or debootstrapped and imported), its tag, its build, its packages.

The tag is a hash of docker/'s build files and the base image's id, so an unchanged image is never
rebuilt and a new base makes a new image. The image carries the list of its Debian and Python packages
(/usr/share/hlsbox/*.txt); `hlsbox image describe` prints it, and a rebuild says what changed.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hlsbox.core.errors import BadInput, HlsboxError, StepFailed
from hlsbox.runtime.engines import LABEL, BuildFailed, ContainerSpec, Engine, Limits, Watch
from hlsbox.runtime.toolchains import DEFAULT, Toolchain, build_dir

REPO = "hlsbox"
REGISTRY_BASE = "debian:bookworm-slim"
LOCAL_BASE = "hlsbox-base:bookworm"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
# The files of docker/ that go into the build, and so into the tag.
BUILD_FILES = ("Dockerfile", "requirements.lock", "hlsbox-entry")
PACKAGE_LISTS = {"debian": "/usr/share/hlsbox/debian-packages.txt", "python": "/usr/share/hlsbox/python-packages.txt"}

Report = Callable[[str], None]


def docker_dir() -> Path:
    """docker/ of the checkout hlsbox runs from (the package lives in <checkout>/tools/hlsbox)."""
    path = Path(os.environ.get("HLSBOX_DOCKER_DIR", Path(__file__).resolve().parents[3] / "docker"))
    if not (path / "Dockerfile").is_file():
        raise BadInput(f"No Dockerfile in {path}.", "Run hlsbox from its checkout, or set HLSBOX_DOCKER_DIR.")
    return path


@dataclass(frozen=True)
class Base:
    ref: str
    id: str


def present_base(engine: Engine) -> Base | None:
    for ref in (REGISTRY_BASE, LOCAL_BASE):
        if image_id := engine.image_id(ref):
            return Base(ref, image_id)
    return None


def build_file(directory: Path, name: str, toolchain: Toolchain = DEFAULT) -> Path:
    """A build file of a toolchain: its own lock (docker/<toolchain>/), the Dockerfile and entry of docker/."""
    return build_dir(toolchain, directory) / name if name == "requirements.lock" else directory / name


def apt_layer(toolchain: Toolchain) -> bytes:
    """The last layer a toolchain with Debian packages of its own adds to docker/Dockerfile (none for the others, so
    their Dockerfile, and tag, is docker/'s as it is): the packages, then the image's package list again."""
    if not toolchain.apt_packages:
        return b""
    return (
        f"\n# {toolchain.name}'s own Debian packages (core/toolchains.py apt_packages)\n"
        "RUN apt-get update \\\n"
        f" && apt-get install -y --no-install-recommends {' '.join(toolchain.apt_packages)} \\\n"
        " && rm -rf /var/lib/apt/lists/* \\\n"
        f" && dpkg-query -W -f '${{Package}} ${{Version}}\\n' | sort > {PACKAGE_LISTS['debian']}\n"
    ).encode()


def tag_for(base_id: str, directory: Path | None = None, toolchain: Toolchain = DEFAULT) -> str:
    """hlsbox:<hash of the build files and the base image's id> (keras2), hlsbox:<toolchain>-<hash> (others)."""
    directory = directory or docker_dir()
    digest = hashlib.sha256(base_id.encode() + b"\0" + (b"" if toolchain == DEFAULT else toolchain.name.encode()))
    for name in BUILD_FILES:
        digest.update(name.encode() + b"\0" + build_file(directory, name, toolchain).read_bytes() + b"\0")
    digest.update(apt_layer(toolchain))  # nothing for a toolchain without Debian packages of its own
    prefix = "" if toolchain == DEFAULT else f"{toolchain.name}-"
    return f"{REPO}:{prefix}{digest.hexdigest()[:12]}"


def image_tag(engine: Engine, toolchain: Toolchain = DEFAULT) -> str:
    """The tag the current docker/ inputs and base image build to."""
    base = present_base(engine)
    if base is None:
        raise BadInput(
            "There is no base image, so there is no hlsbox image either.",
            "Build it with `make image` (or `hlsbox image build`); it makes the base first (pull or debootstrap).",
        )
    return tag_for(base.id, toolchain=toolchain)


@dataclass(frozen=True)
class ImageRef:
    tag: str
    id: str


def find_image(engine: Engine, toolchain: Toolchain = DEFAULT) -> ImageRef:
    tag = image_tag(engine, toolchain)
    image_id = engine.image_id(tag)
    if image_id is None:
        make = "make image" if toolchain == DEFAULT else f"make image TOOLCHAIN={toolchain.name}"
        cli = "hlsbox image build" + ("" if toolchain == DEFAULT else f" --toolchain {toolchain.name}")
        raise BadInput(
            f"The hlsbox image {tag} ({toolchain.name} toolchain) is not built yet (docker/ or the base image "
            "changed, or it was never built).",
            f"Build it with `{make}` (or `{cli}`); it takes a few minutes once.",
        )
    return ImageRef(tag, image_id)


def ensure_base(engine: Engine, report: Report, pull: bool = True, mirror: str = DEBIAN_MIRROR) -> Base:
    """The base image: one present, else pulled, else bootstrapped from Debian's mirror."""
    if base := present_base(engine):
        return base
    if pull:
        report(f"pulling {REGISTRY_BASE}")
        try:
            engine.pull(REGISTRY_BASE)
            return Base(REGISTRY_BASE, engine.image_id(REGISTRY_BASE) or "")
        except HlsboxError as exc:
            report(f"no registry reachable ({exc.message[:120]}); bootstrapping bookworm instead")
    bootstrap_base(engine, report, mirror)
    return Base(LOCAL_BASE, engine.image_id(LOCAL_BASE) or "")


def bootstrap_base(engine: Engine, report: Report, mirror: str = DEBIAN_MIRROR) -> None:
    """debootstrap --variant=minbase bookworm, then import it as hlsbox-base:bookworm."""
    if shutil.which("debootstrap") is None:
        raise BadInput(
            "No registry is reachable and debootstrap is not installed, so the base image cannot be made.",
            "Install it (`apt-get install debootstrap`) or make debian:bookworm-slim available (docker load/pull).",
        )
    if os.geteuid() != 0:
        raise BadInput("Bootstrapping the base image needs root (debootstrap).", "Run `sudo hlsbox image base` once.")
    with tempfile.TemporaryDirectory(prefix="hlsbox-base-") as tmp:
        root = Path(tmp) / "rootfs"
        _run_streaming(["debootstrap", "--variant=minbase", "bookworm", str(root), mirror], report, "debootstrap")
        archive = Path(tmp) / "rootfs.tar"
        report("packing the root file system")
        _run_streaming(["tar", "-C", str(root), "--numeric-owner", "-cf", str(archive), "."], report, "tar")
        report(f"importing as {LOCAL_BASE}")
        engine.import_rootfs(archive, LOCAL_BASE, ['CMD ["/bin/bash"]', f'LABEL {LABEL}="base"'])


SUBPROCESS_SILENCE = 600.0  # debootstrap prints each package; 10 min without a line is a stuck mirror
SUBPROCESS_TOTAL = 3600.0  # and it takes ~2 min here


def _run_streaming(
    command: list[str], report: Report, what: str, silence: float = SUBPROCESS_SILENCE, total: float = SUBPROCESS_TOTAL
) -> None:
    """Run a command, each output line to `report`; stopped (its whole process group) when it prints nothing
    for `silence` seconds or runs past `total`, and on Ctrl-C."""
    lines: list[str] = []
    queue_: queue.Queue[str | None] = queue.Queue()
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    ) as proc:
        threading.Thread(target=_pump, args=(proc.stdout, queue_), daemon=True).start()
        start = last = time.monotonic()
        try:
            while (line := _next_line(queue_)) is not None:
                now = time.monotonic()
                if line:
                    lines.append(line.rstrip())
                    report(line.rstrip())
                    last = now
                if now - last > silence or now - start > total:
                    _stop_group(proc)
                    limit = (
                        f"printed nothing for {silence / 60:.0f} min"
                        if now - last > silence
                        else (f"ran past {total / 60:.0f} min")
                    )
                    raise StepFailed(
                        f"{what} {limit} and was stopped: {' / '.join(lines[-3:]) or 'no output'}",
                        "Check that Debian's mirror is reachable (apt-get update works) and that there is disk space.",
                    )
        except BaseException:
            _stop_group(proc)
            raise
    if proc.returncode != 0:
        raise StepFailed(
            f"{what} failed (exit {proc.returncode}): {' / '.join(lines[-3:])}",
            "Check that Debian's mirror is reachable (apt-get update works) and that there is disk space.",
        )


def _pump(stream, lines: queue.Queue[str | None]) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


def _next_line(lines: queue.Queue[str | None]) -> str | None:
    """The next line, "" after a second without one, None at the end of the output."""
    try:
        return lines.get(timeout=1.0)
    except queue.Empty:
        return ""


def _stop_group(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@dataclass(frozen=True)
class BuildOptions:
    ca_bundle: Path | None = None  # extra CA bundle for pip behind a TLS-intercepting proxy
    index_url: str | None = None  # package index (mirror, proxy, air-gapped devpi)


def build_context(directory: Path, ca_bundle: Path | None, toolchain: Toolchain = DEFAULT) -> io.BytesIO:
    """The build context as a tar: the toolchain's build files plus the CA bundle (empty if none)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        layer = apt_layer(toolchain)
        for name in BUILD_FILES:
            if name == "Dockerfile" and layer:  # docker/Dockerfile with the toolchain's own last layer
                _add_bytes(tar, name, (directory / name).read_bytes() + layer, 0o644)
            else:
                tar.add(build_file(directory, name, toolchain), arcname=name)
        _add_bytes(tar, "extra-ca.pem", ca_bundle.read_bytes() if ca_bundle else b"", 0o644)
    buffer.seek(0)
    return buffer


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, mode: int) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), mode
    tar.addfile(info, io.BytesIO(data))


# Docker's classic builder: "Step 3/19 : RUN ..."; Podman (buildah): "[2/3] STEP 3/7: RUN ...".
_STEP = re.compile(r"^(?:\[\d+/\d+\] )?(?:Step|STEP) (\d+)/(\d+)\s*:\s*(.*)")


def build_image(
    engine: Engine,
    base: Base,
    options: BuildOptions,
    on_step: Callable[[int, int, str], None],
    on_line: Report,
    toolchain: Toolchain = DEFAULT,
) -> str:
    """Build the image on `base` (the legacy builder's API, which Docker and Podman both serve); its tag."""
    if options.ca_bundle and not options.ca_bundle.is_file():
        raise BadInput(
            f"CA bundle '{options.ca_bundle}' does not exist.", "Give a PEM file with --ca-bundle / CA_BUNDLE=."
        )
    directory = docker_dir()
    tag = tag_for(base.id, directory, toolchain)
    buildargs = {"BASE_IMAGE": base.ref, **({"PIP_INDEX_URL": options.index_url} if options.index_url else {})}

    def line(text: str) -> None:
        if match := _STEP.match(text):
            on_step(int(match.group(1)), int(match.group(2)), match.group(3))
        on_line(text)

    labels = {LABEL: "image", "org.hlsbox.base": base.ref, "org.hlsbox.base-id": base.id}
    labels |= {"org.hlsbox.toolchain": toolchain.name} if toolchain != DEFAULT else {}
    try:
        engine.build(build_context(directory, options.ca_bundle, toolchain), tag, buildargs, labels, line)
    except BuildFailed as failed:
        raise StepFailed(
            f"The image build failed: {failed.detail}\n  " + "\n  ".join(failed.tail[-8:]),
            _build_hint(" ".join(failed.tail[-20:]) + failed.detail),
        ) from None
    return tag


def _build_hint(text: str) -> str:
    if "SSL" in text or "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
        return (
            "pip could not verify the package index's TLS certificate: behind a TLS-intercepting proxy, give its "
            "CA bundle with --ca-bundle / CA_BUNDLE= (e.g. /etc/ssl/certs/ca-certificates.crt)."
        )
    if "THESE PACKAGES DO NOT MATCH THE HASHES" in text:
        return (
            "A package's hash differs from docker/requirements.lock: the index serves other files; regenerate the lock."
        )
    if "Could not find a version" in text or "No matching distribution" in text:
        return "The package index lacks a locked package: check --index-url / INDEX_URL."
    return "The full build log is in build/image-build.log."


# ---------- what the image holds ----------


def packages(engine: Engine, image: str) -> dict[str, dict[str, str]]:
    """The image's Debian and Python packages with versions, read from the lists the build wrote into it."""
    lines: list[str] = []
    command = ("sh", "-c", "for f in " + " ".join(PACKAGE_LISTS.values()) + '; do echo "== $f"; cat "$f"; done')
    spec = ContainerSpec(image, command, Limits(memory=256 << 20, cpus=1, pids=64, timeout=60), labels={})
    outcome = engine.run(spec, Watch(on_line=lines.append))
    if outcome.exit_code != 0:
        raise StepFailed(
            f"Could not read the package lists of image {image} (exit {outcome.exit_code}).",
            "The image predates package lists: rebuild it with `make image`.",
        )
    found: dict[str, dict[str, str]] = {kind: {} for kind in PACKAGE_LISTS}
    paths = {path: kind for kind, path in PACKAGE_LISTS.items()}
    kind = None
    for line in lines:
        if line.startswith("== "):
            kind = paths.get(line[3:].strip())
        elif kind and (match := re.match(r"\s*([^\s=]+)(?:==|\s+)(\S+)", line)):
            found[kind][match.group(1)] = match.group(2)
    return found


def package_changes(old: dict[str, dict[str, str]], new: dict[str, dict[str, str]]) -> list[str]:
    """'debian: added ccache 4.8', 'python: numpy 1.25.0 -> 1.26.0', ...: what a rebuild changed."""
    changes = []
    for kind in sorted(set(old) | set(new)):
        before, after = old.get(kind, {}), new.get(kind, {})
        for name in sorted(set(before) | set(after)):
            if name not in before:
                changes.append(f"{kind}: added {name} {after[name]}")
            elif name not in after:
                changes.append(f"{kind}: removed {name} {before[name]}")
            elif before[name] != after[name]:
                changes.append(f"{kind}: {name} {before[name]} -> {after[name]}")
    return changes


def record_packages(state_dir: Path, tag: str, found: dict[str, dict[str, str]]) -> list[str] | None:
    """Keep this build's package set; the changes against the last build recorded here (None: no last one)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    last = state_dir / "last-build.json"
    previous = json.loads(last.read_text()) if last.is_file() else None
    (state_dir / f"{tag.replace(':', '-')}.packages.json").write_text(json.dumps(found, indent=1, sort_keys=True))
    last.write_text(json.dumps({"tag": tag, "packages": found}, indent=1, sort_keys=True))
    if previous is None or previous.get("tag") == tag:
        return None
    return package_changes(previous["packages"], found)
