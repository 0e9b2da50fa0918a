use serde_json::json;

use super::*;

fn images(found: &Workload) -> Vec<(&str, &str, ContainerKind)> {
    found
        .uses
        .iter()
        .map(|u| (u.image.as_str(), u.pointer.as_str(), u.container_kind))
        .collect()
}

fn pod_spec() -> serde_json::Value {
    json!({
        "initContainers": [{"name": "migrate", "image": "dhi.io/python:3.13"}],
        "containers": [
            {"name": "app", "image": "dhi.io/node:22"},
            {"name": "proxy", "image": "envoyproxy/envoy:v1.31"}
        ],
        "ephemeralContainers": [{"name": "debug", "image": "busybox"}]
    })
}

#[test]
fn every_container_list_of_every_workload_kind() {
    let cases = [
        ("Pod", json!({"spec": pod_spec()}), "/spec"),
        (
            "Deployment",
            json!({"spec": {"template": {"spec": pod_spec()}}}),
            "/spec/template/spec",
        ),
        (
            "StatefulSet",
            json!({"spec": {"template": {"spec": pod_spec()}}}),
            "/spec/template/spec",
        ),
        (
            "DaemonSet",
            json!({"spec": {"template": {"spec": pod_spec()}}}),
            "/spec/template/spec",
        ),
        (
            "ReplicaSet",
            json!({"spec": {"template": {"spec": pod_spec()}}}),
            "/spec/template/spec",
        ),
        (
            "ReplicationController",
            json!({"spec": {"template": {"spec": pod_spec()}}}),
            "/spec/template/spec",
        ),
        (
            "Job",
            json!({"spec": {"template": {"spec": pod_spec()}}}),
            "/spec/template/spec",
        ),
        (
            "CronJob",
            json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": pod_spec()}}}}}),
            "/spec/jobTemplate/spec/template/spec",
        ),
        (
            "PodTemplate",
            json!({"template": {"spec": pod_spec()}}),
            "/template/spec",
        ),
        (
            "Rollout",
            json!({"spec": {"template": {"spec": pod_spec()}}}),
            "/spec/template/spec",
        ),
    ];
    for (kind, mut object, base) in cases {
        object["kind"] = json!(kind);
        object["metadata"] = json!({"name": "web", "namespace": "prod"});
        let found = images_in_object(&object).unwrap();
        assert_eq!(
            images(&found),
            vec![
                (
                    "dhi.io/python:3.13",
                    &*format!("{base}/initContainers/0/image"),
                    ContainerKind::Init
                ),
                (
                    "dhi.io/node:22",
                    &*format!("{base}/containers/0/image"),
                    ContainerKind::Container
                ),
                (
                    "envoyproxy/envoy:v1.31",
                    &*format!("{base}/containers/1/image"),
                    ContainerKind::Container
                ),
                (
                    "busybox",
                    &*format!("{base}/ephemeralContainers/0/image"),
                    ContainerKind::Ephemeral
                ),
            ],
            "{kind}"
        );
        let first = &found.uses[0];
        assert_eq!(
            (
                first.kind.as_str(),
                first.name.as_deref(),
                first.namespace.as_deref()
            ),
            (kind, Some("web"), Some("prod"))
        );
        assert_eq!(first.container, "migrate");
        assert!(found.skipped.is_empty(), "{kind}");
    }
}

#[test]
fn list_items_are_read_and_kinds_without_pods_skipped() {
    let list = json!({
        "apiVersion": "v1", "kind": "List",
        "items": [
            {"kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"image": "not-an-image"}},
            {"kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "a", "image": "nginx"}]}},
            {"kind": "DeploymentList", "items": [
                {"kind": "Deployment", "spec": {"template": {"spec": {"containers": [{"name": "b", "image": "redis:7"}]}}}}
            ]},
            {"kind": "Service", "spec": {"template": {"spec": {}}}}
        ]
    });
    let found = images_in_object(&list).unwrap();
    assert_eq!(
        images(&found),
        vec![
            (
                "nginx",
                "/items/1/spec/containers/0/image",
                ContainerKind::Container
            ),
            (
                "redis:7",
                "/items/2/items/0/spec/template/spec/containers/0/image",
                ContainerKind::Container
            ),
        ]
    );
    assert_eq!(found.skipped, vec!["ConfigMap", "Service"]);
}

#[test]
fn a_container_without_a_readable_image_is_an_error() {
    let pod =
        |container: serde_json::Value| json!({"kind": "Pod", "spec": {"containers": [container]}});
    let missing = images_in_object(&pod(json!({"name": "app"}))).unwrap_err();
    assert!(
        matches!(missing, WorkloadError::MissingImage { ref container, .. } if container == "app")
    );
    let null = images_in_object(&pod(json!({"name": "app", "image": null}))).unwrap_err();
    assert!(matches!(null, WorkloadError::MissingImage { .. }));
    let number = images_in_object(&pod(json!({"name": "app", "image": 7}))).unwrap_err();
    assert_eq!(
        number.to_string(),
        "/spec/containers/0/image: expected an image string, found a number"
    );
    let invalid = images_in_object(&pod(json!({"name": "app", "image": "Bad Image"}))).unwrap_err();
    assert!(
        matches!(invalid, WorkloadError::InvalidImage { .. }),
        "{invalid}"
    );
    let layout = images_in_object(&pod(json!({"name": "app", "image": "oci:/tmp/x"}))).unwrap_err();
    assert!(
        matches!(layout, WorkloadError::InvalidImage { .. }),
        "{layout}"
    );
    let not_list =
        images_in_object(&json!({"kind": "Pod", "spec": {"containers": {"image": "nginx"}}}))
            .unwrap_err();
    assert_eq!(
        not_list.to_string(),
        "/spec/containers: expected a list of containers, found a mapping"
    );
    let no_spec = images_in_object(&json!({"kind": "Deployment", "spec": {}})).unwrap_err();
    assert_eq!(
        no_spec.to_string(),
        "/spec/template/spec: expected a pod spec, found nothing"
    );
    let scalar = images_in_object(&json!("nginx")).unwrap_err();
    assert!(matches!(scalar, WorkloadError::Shape { .. }));
}

#[test]
fn compose_services_skip_only_what_is_never_pulled() {
    let compose = json!({
        "name": "shop",
        "services": {
            "web": {"image": "dhi.io/nginx:1"},
            "api": {"build": "./api"},
            "worker": {"build": {"context": "."}, "image": "registry.example/worker:1"},
            "local": {"build": ".", "image": "shop/local", "pull_policy": "build"}
        }
    });
    let found = images_in_object(&compose).unwrap();
    assert_eq!(
        images(&found),
        vec![
            (
                "dhi.io/nginx:1",
                "/services/web/image",
                ContainerKind::ComposeService
            ),
            (
                "registry.example/worker:1",
                "/services/worker/image",
                ContainerKind::ComposeService
            ),
        ]
    );
    assert_eq!(found.uses[0].name.as_deref(), Some("shop"));
    assert_eq!(found.uses[0].container, "web");
    assert_eq!(
        found.skipped,
        vec!["compose build: api", "compose build: local"]
    );

    let no_image = json!({"services": {"db": {"ports": ["5432"]}}});
    assert!(matches!(
        images_in_object(&no_image).unwrap_err(),
        WorkloadError::MissingImage { .. }
    ));
    let interpolated = json!({"services": {"db": {"image": "postgres:${TAG:-16}"}}});
    assert!(matches!(
        images_in_object(&interpolated).unwrap_err(),
        WorkloadError::Interpolated { .. }
    ));
    let slash = json!({"services": {"a/b~c": {"image": "nginx"}}});
    assert_eq!(
        images_in_object(&slash).unwrap().uses[0].pointer,
        "/services/a~1b~0c/image"
    );
}

#[test]
fn canonical_is_docker_normalisation() {
    assert_eq!(
        canonical("nginx").unwrap(),
        "docker.io/library/nginx:latest"
    );
    assert_eq!(
        canonical("docker.io/library/nginx:latest").unwrap(),
        canonical("index.docker.io/nginx").unwrap()
    );
    assert_eq!(
        canonical("dhi.io/python:3.13").unwrap(),
        "dhi.io/python:3.13"
    );
    let pinned = format!("nginx@sha256:{}", "a".repeat(64));
    assert_eq!(
        canonical(&pinned).unwrap(),
        format!("docker.io/library/nginx@sha256:{}", "a".repeat(64))
    );
    assert!(canonical("oci:testdata/demo").is_err());
}
