"""`hlsbox doctor` reports every toolchain's image: the default one required, the others optional."""

from types import SimpleNamespace

from hlsbox.commands import doctor
from hlsbox.runtime import image, toolchains


class Engine:
    def __init__(self, built: set[str]) -> None:
        self.built = built

    def image_id(self, tag: str) -> str | None:
        return "sha256:1" if tag in self.built else None

    def image_size(self, tag: str) -> int:
        return 2 * 1024**3


def test_each_toolchain_image_is_reported_and_only_the_default_is_required(monkeypatch):
    default_tag = image.tag_for("sha256:base")
    monkeypatch.setattr(doctor.engines, "select", lambda: engine)
    monkeypatch.setattr(image, "present_base", lambda _: SimpleNamespace(id="sha256:base", ref="hlsbox-base"))
    engine = Engine({default_tag})
    engine.info = lambda: SimpleNamespace(name="docker", version="27", api_version="1.47", endpoint="unix://")
    checks = {c.name: c for c in doctor._engine_checks()}
    images = [name for name in checks if name.startswith("hlsbox image")]
    assert images == [f"hlsbox image ({name})" for name in toolchains.NAMES]
    assert checks["hlsbox image (keras2)"].ok and checks["hlsbox image (keras2)"].required
    for name in ("keras3", "qonnx"):
        check = checks[f"hlsbox image ({name})"]
        assert not check.ok and not check.required, check
        assert f"make image TOOLCHAIN={name}" in check.fix and "not built" in check.detail
