//! The walk from a document to its image uses, over any tree that can answer
//! the few questions it asks ([`Node`]): parsed JSON, or YAML with spans.

use std::ops::Range;

use super::{canonical, escape_token, ContainerKind, ImageUse, Workload, WorkloadError};

/// A node of a parsed document: the questions the walk asks of it.
pub(crate) trait Node: Sized {
    /// The value under `key`, when this is a mapping that has it.
    fn get(&self, key: &str) -> Option<&Self>;
    /// The string, when this is a string.
    fn as_str(&self) -> Option<&str>;
    /// The items, when this is a sequence.
    fn items(&self) -> Option<Vec<&Self>>;
    /// The entries with string keys, when this is a mapping.
    fn entries(&self) -> Option<Vec<(&str, &Self)>>;
    /// Null (or an empty YAML value).
    fn is_null(&self) -> bool;
    /// What this node is, for messages: `a string`, `a list`, …
    fn shape(&self) -> &'static str;
    /// 1-based line where the node starts, when known.
    fn line(&self) -> Option<usize>;
    /// Byte range of the node in the source text, when known.
    fn span(&self) -> Option<Range<usize>>;
}

/// Workload kinds and where their pod spec is.
const POD_SPEC_PATHS: &[(&str, &[&str])] = &[
    ("Pod", &["spec"]),
    ("Deployment", &["spec", "template", "spec"]),
    ("ReplicaSet", &["spec", "template", "spec"]),
    ("StatefulSet", &["spec", "template", "spec"]),
    ("DaemonSet", &["spec", "template", "spec"]),
    ("Job", &["spec", "template", "spec"]),
    ("ReplicationController", &["spec", "template", "spec"]),
    (
        "CronJob",
        &["spec", "jobTemplate", "spec", "template", "spec"],
    ),
    ("PodTemplate", &["template", "spec"]),
];

/// Where a CRD's pod template is looked for.
const CRD_POD_SPEC: &[&str] = &["spec", "template", "spec"];

/// The container lists of a pod spec, in the order Kubernetes starts them.
const CONTAINER_LISTS: &[(&str, ContainerKind)] = &[
    ("initContainers", ContainerKind::Init),
    ("containers", ContainerKind::Container),
    ("ephemeralContainers", ContainerKind::Ephemeral),
];

/// The object whose containers are being read.
struct Owner<'a> {
    kind: &'a str,
    name: Option<&'a str>,
    namespace: Option<&'a str>,
    document: usize,
}

fn shape_error<N: Node>(node: &N, pointer: &str, expected: &'static str) -> WorkloadError {
    WorkloadError::Shape {
        pointer: display_pointer(pointer),
        expected,
        found: node.shape(),
        line: node.line(),
    }
}

/// The root pointer is the empty string; messages say `/`.
fn display_pointer(pointer: &str) -> String {
    if pointer.is_empty() {
        "/".to_owned()
    } else {
        pointer.to_owned()
    }
}

/// Reads one document (index `document` of its source).
pub(crate) fn document<N: Node>(
    doc: &N,
    document: usize,
    out: &mut Workload,
) -> Result<(), WorkloadError> {
    if doc.is_null() {
        return Ok(());
    }
    if doc.entries().is_none() {
        return Err(shape_error(
            doc,
            "",
            "a mapping (a Kubernetes object or a Compose file)",
        ));
    }
    object(doc, "", document, out)
}

fn object<N: Node>(
    node: &N,
    base: &str,
    document: usize,
    out: &mut Workload,
) -> Result<(), WorkloadError> {
    let Some(kind) = node.get("kind").and_then(Node::as_str) else {
        if node.get("apiVersion").is_none() && node.get("services").is_some() {
            return compose(node, base, document, out);
        }
        out.skipped.push("(no kind)".to_owned());
        return Ok(());
    };
    let metadata = node.get("metadata");
    let owner = Owner {
        kind,
        name: metadata.and_then(|m| m.get("name")).and_then(Node::as_str),
        namespace: metadata
            .and_then(|m| m.get("namespace"))
            .and_then(Node::as_str),
        document,
    };
    if kind.ends_with("List") {
        if let Some(items) = node.get("items") {
            let pointer = format!("{base}/items");
            let list = items
                .items()
                .ok_or_else(|| shape_error(items, &pointer, "a list of objects"))?;
            for (i, item) in list.into_iter().enumerate() {
                let item_pointer = format!("{pointer}/{i}");
                if item.entries().is_none() {
                    return Err(shape_error(item, &item_pointer, "an object"));
                }
                object(item, &item_pointer, document, out)?;
            }
            return Ok(());
        }
    }
    let known = POD_SPEC_PATHS
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, path)| *path);
    let path = match known {
        Some(path) => path,
        None if descend(node, CRD_POD_SPEC).is_some_and(|s| s.get("containers").is_some()) => {
            CRD_POD_SPEC
        }
        None => {
            out.skipped.push(kind.to_owned());
            return Ok(());
        }
    };
    let spec_pointer = path.iter().fold(base.to_owned(), |p, k| format!("{p}/{k}"));
    let spec = descend(node, path).ok_or_else(|| WorkloadError::Shape {
        pointer: display_pointer(&spec_pointer),
        expected: "a pod spec",
        found: "nothing",
        line: node.line(),
    })?;
    if spec.entries().is_none() {
        return Err(shape_error(spec, &spec_pointer, "a pod spec mapping"));
    }
    pod_spec(spec, &spec_pointer, &owner, out)
}

fn descend<'n, N: Node>(node: &'n N, path: &[&str]) -> Option<&'n N> {
    path.iter().try_fold(node, |n, k| n.get(k))
}

fn pod_spec<N: Node>(
    spec: &N,
    pointer: &str,
    owner: &Owner<'_>,
    out: &mut Workload,
) -> Result<(), WorkloadError> {
    for (field, container_kind) in CONTAINER_LISTS {
        let Some(list) = spec.get(field) else {
            continue;
        };
        if list.is_null() {
            continue;
        }
        let list_pointer = format!("{pointer}/{field}");
        let containers = list
            .items()
            .ok_or_else(|| shape_error(list, &list_pointer, "a list of containers"))?;
        for (i, container) in containers.into_iter().enumerate() {
            let container_pointer = format!("{list_pointer}/{i}");
            if container.entries().is_none() {
                return Err(shape_error(container, &container_pointer, "a container"));
            }
            let name = container
                .get("name")
                .and_then(Node::as_str)
                .map_or_else(|| format!("#{i}"), str::to_owned);
            let image = match container.get("image") {
                Some(image) if !image.is_null() => image,
                _ => {
                    return Err(WorkloadError::MissingImage {
                        pointer: container_pointer,
                        container: name,
                        line: container.line(),
                    })
                }
            };
            let image_pointer = format!("{container_pointer}/image");
            out.uses.push(image_use(
                image,
                image_pointer,
                name,
                *container_kind,
                owner,
            )?);
        }
    }
    Ok(())
}

/// A Compose file: every service's `image`. A service built from source
/// (`build`) whose image is never pulled (`pull_policy: build`, or no
/// `image`) is skipped; with an `image` Compose may pull it, so it is verified.
fn compose<N: Node>(
    node: &N,
    base: &str,
    document: usize,
    out: &mut Workload,
) -> Result<(), WorkloadError> {
    let services_pointer = format!("{base}/services");
    let Some(services) = node.get("services").filter(|s| !s.is_null()) else {
        return Ok(());
    };
    let entries = services
        .entries()
        .ok_or_else(|| shape_error(services, &services_pointer, "a mapping of services"))?;
    let owner = Owner {
        kind: "compose",
        name: node.get("name").and_then(Node::as_str),
        namespace: None,
        document,
    };
    for (name, service) in entries {
        let pointer = format!("{services_pointer}/{}", escape_token(name));
        if service.entries().is_none() {
            return Err(shape_error(service, &pointer, "a service mapping"));
        }
        let built = service.get("build").is_some_and(|b| !b.is_null());
        let pull_policy = service.get("pull_policy").and_then(Node::as_str);
        let image = service.get("image").filter(|i| !i.is_null());
        let image = match image {
            Some(image) if !(built && pull_policy == Some("build")) => image,
            _ if built => {
                out.skipped.push(format!("compose build: {name}"));
                continue;
            }
            _ => {
                return Err(WorkloadError::MissingImage {
                    pointer,
                    container: name.to_owned(),
                    line: service.line(),
                })
            }
        };
        let image_pointer = format!("{pointer}/image");
        if image.as_str().is_some_and(|s| s.contains('$')) {
            return Err(WorkloadError::Interpolated {
                pointer: image_pointer,
                image: image.as_str().unwrap_or_default().to_owned(),
                line: image.line(),
            });
        }
        out.uses.push(image_use(
            image,
            image_pointer,
            name.to_owned(),
            ContainerKind::ComposeService,
            &owner,
        )?);
    }
    Ok(())
}

fn image_use<N: Node>(
    image: &N,
    pointer: String,
    container: String,
    container_kind: ContainerKind,
    owner: &Owner<'_>,
) -> Result<ImageUse, WorkloadError> {
    let written = image
        .as_str()
        .ok_or_else(|| shape_error(image, &pointer, "an image string"))?;
    if let Err(source) = canonical(written) {
        return Err(WorkloadError::InvalidImage {
            pointer,
            image: written.to_owned(),
            source,
            line: image.line(),
        });
    }
    Ok(ImageUse {
        image: written.to_owned(),
        pointer,
        container,
        container_kind,
        kind: owner.kind.to_owned(),
        name: owner.name.map(str::to_owned),
        namespace: owner.namespace.map(str::to_owned),
        document: owner.document,
        line: image.line(),
        span: image.span(),
        file: None,
    })
}
