"""The pinned image: its base (pulled, or debootstrapped and imported), its tag, its build."""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import docker
from docker.errors import APIError, DockerException, ImageNotFound

from hlsbox.engine import LABEL
from hlsbox.errors import BadInput, StepFailed

REPO = "hlsbox"
REGISTRY_BASE = "debian:bookworm-slim"
LOCAL_BASE = "hlsbox-base:bookworm"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
# The files of docker/ that go into the build, and so into the tag.
BUILD_FILES = ("Dockerfile", "requirements.lock", "hlsbox-entry")

Report = Callable[[str], None]


def docker_dir() -> Path:
    """docker/ of the checkout hlsbox runs from (the package lives in <checkout>/tools/hlsbox)."""
    path = Path(os.environ.get("HLSBOX_DOCKER_DIR", Path(__file__).resolve().parents[2] / "docker"))
    if not (path / "Dockerfile").is_file():
        raise BadInput(f"No Dockerfile in {path}.", "Run hlsbox from its checkout, or set HLSBOX_DOCKER_DIR.")
    return path


def image_tag(directory: Path | None = None) -> str:
    """hlsbox:<hash of the build inputs>: an unchanged image is never rebuilt."""
    directory = directory or docker_dir()
    digest = hashlib.sha256()
    for name in BUILD_FILES:
        digest.update(name.encode() + b"\0" + (directory / name).read_bytes() + b"\0")
    return f"{REPO}:{digest.hexdigest()[:12]}"


def find_image(client: docker.DockerClient) -> docker.models.images.Image:
    tag = image_tag()
    try:
        return client.images.get(tag)
    except ImageNotFound:
        raise BadInput(
            f"The hlsbox image {tag} is not built yet (docker/ changed, or it was never built).",
            "Build it with `make image` (or `hlsbox image build`); it takes a few minutes once.",
        ) from None


def present_base(client: docker.DockerClient) -> str | None:
    for ref in (REGISTRY_BASE, LOCAL_BASE):
        try:
            client.images.get(ref)
            return ref
        except ImageNotFound:
            continue
    return None


def ensure_base(client: docker.DockerClient, report: Report, pull: bool = True, mirror: str = DEBIAN_MIRROR) -> str:
    """The base image reference: one present, else pulled, else bootstrapped from Debian's mirror."""
    ref = present_base(client)
    if ref:
        return ref
    if pull:
        report(f"pulling {REGISTRY_BASE}")
        try:
            client.images.pull(REGISTRY_BASE)
            return REGISTRY_BASE
        except (APIError, DockerException) as exc:
            report(f"no registry reachable ({str(exc).splitlines()[0][:120]}); bootstrapping bookworm instead")
    bootstrap_base(client, report, mirror)
    return LOCAL_BASE


def bootstrap_base(client: docker.DockerClient, report: Report, mirror: str = DEBIAN_MIRROR) -> None:
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
        command = ["debootstrap", "--variant=minbase", "bookworm", str(root), mirror]
        _run_streaming(command, report, "debootstrap")
        archive = Path(tmp) / "rootfs.tar"
        report("packing the root file system")
        subprocess.run(["tar", "-C", str(root), "--numeric-owner", "-cf", str(archive), "."], check=True)
        report(f"importing as {LOCAL_BASE}")
        repository, tag = LOCAL_BASE.split(":")
        client.api.import_image_from_file(
            str(archive), repository=repository, tag=tag, changes=['CMD ["/bin/bash"]', f'LABEL {LABEL}="base"']
        )


def _run_streaming(command: list[str], report: Report, what: str) -> None:
    lines: list[str] = []
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip())
            report(line.rstrip())
    if proc.returncode != 0:
        raise StepFailed(
            f"{what} failed (exit {proc.returncode}): {' / '.join(lines[-3:])}",
            "Check that Debian's mirror is reachable (apt-get update works) and that there is disk space.",
        )


@dataclass(frozen=True)
class BuildOptions:
    ca_bundle: Path | None = None  # extra CA bundle for pip behind a TLS-intercepting proxy
    index_url: str | None = None  # package index (mirror, proxy, air-gapped devpi)
    base: str | None = None  # base image reference; found or made when None


def build_context(directory: Path, ca_bundle: Path | None) -> io.BytesIO:
    """The build context as a tar: docker/'s build files plus the CA bundle (empty if none)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name in BUILD_FILES:
            tar.add(directory / name, arcname=name)
        data = ca_bundle.read_bytes() if ca_bundle else b""
        info = tarfile.TarInfo("extra-ca.pem")
        info.size, info.mode = len(data), 0o644
        tar.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    return buffer


_STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)")


def build_image(
    client: docker.DockerClient,
    options: BuildOptions,
    on_step: Callable[[int, int, str], None],
    on_line: Report,
) -> str:
    """Build the image (the legacy builder, through the SDK); returns its tag."""
    if options.ca_bundle and not options.ca_bundle.is_file():
        raise BadInput(
            f"CA bundle '{options.ca_bundle}' does not exist.", "Give a PEM file with --ca-bundle / CA_BUNDLE=."
        )
    directory = docker_dir()
    tag = image_tag(directory)
    base = options.base or present_base(client)
    if base is None:
        raise BadInput("No base image is present.", "Create it with `hlsbox image base` (pull or debootstrap).")
    buildargs = {"BASE_IMAGE": base}
    if options.index_url:
        buildargs["PIP_INDEX_URL"] = options.index_url
    tail: list[str] = []
    stream = client.api.build(
        fileobj=build_context(directory, options.ca_bundle),
        custom_context=True,
        tag=tag,
        buildargs=buildargs,
        rm=True,
        forcerm=True,
        pull=False,
        decode=True,
        labels={LABEL: "image", "org.hlsbox.base": base},
    )
    for chunk in stream:
        if "error" in chunk:
            detail = chunk.get("errorDetail", {}).get("message", chunk["error"]).strip()
            raise StepFailed(
                f"The image build failed: {detail}\n  " + "\n  ".join(tail[-8:]),
                _build_hint(" ".join(tail[-20:]) + detail),
            )
        for line in chunk.get("stream", "").splitlines():
            if not line.strip():
                continue
            tail.append(line)
            match = _STEP.match(line)
            if match:
                on_step(int(match.group(1)), int(match.group(2)), match.group(3))
            on_line(line)
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


def remove_images(client: docker.DockerClient, keep: str | None = None) -> list[str]:
    removed = []
    for image in client.images.list(filters={"label": LABEL}):
        tags = image.tags or [image.short_id]
        if keep in tags or any(t.startswith("hlsbox-base") for t in tags):
            continue
        try:
            client.images.remove(image.id, force=True)
            removed.extend(tags)
        except APIError:
            continue
    return removed
