from __future__ import annotations

from typing import Any

from drdrill.backups.references import find_s3_references, match_references, split_s3_uri
from drdrill.backups.setcheck import SetCatalog

ISVC: dict[str, Any] = {
    "apiVersion": "serving.kserve.io/v1beta1",
    "kind": "InferenceService",
    "metadata": {
        "name": "iris",
        "namespace": "ml",
        "annotations": {
            "drdrill.io/dataset": "s3://datasets/iris/v3/",
            "kubectl.kubernetes.io/last-applied-configuration": '{"x": "s3://models/dup"}',
        },
        "managedFields": [{"fieldsV1": {"s3://models/managed": {}}}],
    },
    "spec": {"predictor": {"model": {"storageUri": "s3://models/sklearn/iris/v1"},
                           "sklearn": {"storageUri": "s3://models/sklearn/iris/v1"}}},
}
DEPLOYMENT: dict[str, Any] = {
    "kind": "Deployment",
    "metadata": {"name": "trainer", "namespace": "ml"},
    "spec": {"template": {"spec": {"containers": [{
        "name": "main",
        "args": ["--out=s3://models/trainer/out", "--log", "https://example.com/s3://no"],
        "env": [{"name": "MODEL", "value": "s3://models/llm/weights.safetensors"},
                {"name": "OTHER", "value": "http://x"}],
    }]}}},
}
SECRET: dict[str, Any] = {
    "kind": "Secret",
    "metadata": {"name": "creds", "namespace": "ml"},
    "stringData": {"url": "s3://secret-bucket/x"},
}


def test_finds_uris_in_every_string() -> None:
    found = find_s3_references([ISVC, DEPLOYMENT, SECRET])
    uris = {uri for uri, _ in found}
    assert uris == {
        "s3://datasets/iris/v3/",
        "s3://models/sklearn/iris/v1",
        "s3://models/trainer/out",
        "s3://models/llm/weights.safetensors",
    }
    sources = {source for _, source in found}
    assert "InferenceService ml/iris: spec.predictor.model.storageUri" in sources
    assert "Deployment ml/trainer: spec.template.spec.containers[0].env[0].value" in sources


def test_no_objects_no_references() -> None:
    assert find_s3_references([]) == []
    assert find_s3_references([{"kind": "ConfigMap", "data": None}]) == []


def test_split() -> None:
    assert split_s3_uri("s3://b/a/b/c") == ("b", "a/b/c")
    assert split_s3_uri("s3://b") == ("b", "")


CATALOGS = [
    SetCatalog("models", "models", "sklearn/", True,
               frozenset({"iris/v1/model.joblib", "iris/v1/meta.json"})),
    SetCatalog("llm", "models", "llm/", False, frozenset({"weights.safetensors"})),
    SetCatalog("data", "datasets", "", True, frozenset({"iris/v3/part-0.csv"})),
]


def _match(uri: str) -> tuple[str | None, bool]:
    [record] = match_references([(uri, "test")], CATALOGS)
    return record.backup_set, record.restorable


def test_folder_reference_in_verified_set() -> None:
    assert _match("s3://models/sklearn/iris/v1") == ("models", True)
    assert _match("s3://models/sklearn/iris/v1/") == ("models", True)
    assert _match("s3://datasets/iris/v3/") == ("data", True)


def test_object_reference_in_unverified_set() -> None:
    assert _match("s3://models/llm/weights.safetensors") == ("llm", False)


def test_reference_outside_every_set() -> None:
    assert _match("s3://models/trainer/out") == (None, False)
    assert _match("s3://other/sklearn/iris/v1") == (None, False)


def test_reference_inside_prefix_but_not_backed_up() -> None:
    assert _match("s3://models/sklearn/iris/v2") == (None, False)
    assert _match("s3://models/sklearn/iris/v1/model.jobli") == (None, False)


def test_a_sampled_set_counts_only_the_objects_it_read() -> None:
    sampled = SetCatalog("models", "models", "sklearn/", True,
                         frozenset({"iris/v1/model.joblib", "iris/v1/meta.json", "wine/m.bin"}),
                         verified_keys=frozenset({"iris/v1/model.joblib", "iris/v1/meta.json"}))
    [read] = match_references([("s3://models/sklearn/iris/v1", "t")], [sampled])
    [left_out] = match_references([("s3://models/sklearn/wine/m.bin", "t")], [sampled])
    assert (read.backup_set, read.restorable) == ("models", True)
    assert (left_out.backup_set, left_out.restorable) == ("models", False)


def test_a_sample_always_takes_in_what_git_points_at() -> None:
    from drdrill.backups.restore import RestoreTarget
    from drdrill.backups.setcheck import with_referenced

    targets = [RestoreTarget(f"sklearn/{k}", k, 1) for k in
               ("iris/v1/model.joblib", "iris/v1/meta.json", "wine/m.bin", "iris/v10/x")]
    chosen = with_referenced(targets, {"wine/m.bin"}, ["sklearn/iris/v1"])
    assert chosen == {"wine/m.bin", "iris/v1/model.joblib", "iris/v1/meta.json"}
