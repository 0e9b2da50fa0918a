//! Reading and pinning deployment manifests: 10 000 Deployment documents in
//! one multi-document YAML stream (what `helm template` or `kustomize build`
//! of a large cluster pipes into `dhi-verify deploy -`), and the same objects
//! as one JSON `List`.
//!
//! Each document is a Deployment shaped like rendered chart output: labels,
//! annotations, a `# Source:` comment, an init container, an app container
//! and a sidecar (a quoted image, a plain one, a single-quoted one), env,
//! ports, probes, resources and volumes: 80 lines, about 2 KiB. 100 distinct
//! images, so 30 000 uses. Rows: `read_manifests` (parse, tree with byte spans,
//! walk), `pin` of every use (which parses the text twice more: to check each
//! span, then to check the result), and the floor: iterating the YAML
//! parser's events without building anything. Last, the time to refuse a
//! "billion laughs" document.
//!
//! Run: `cargo bench -p dhi-verify --bench manifests` (results in docs/performance.md).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark, not library code
#![allow(missing_docs)]

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use dhi_verify::workload::{pin, read_manifests, ImageUse};
use dhi_verify::Digest;

const N: usize = 10_000;
const RUNS: usize = 7;

fn deployment(out: &mut String, i: usize) {
    let app = i % 100;
    write!(
        out,
        r#"---
# Source: app{app}/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-{i}
  namespace: team-{ns}
  labels:
    helm.sh/chart: app{app}-1.2.3
    app.kubernetes.io/name: app{app}
    app.kubernetes.io/instance: release-{i}
    app.kubernetes.io/version: "1.2.3"
    app.kubernetes.io/managed-by: Helm
  annotations:
    deployment.kubernetes.io/revision: "3"
spec:
  replicas: 3
  revisionHistoryLimit: 10
  selector:
    matchLabels:
      app.kubernetes.io/name: app{app}
      app.kubernetes.io/instance: release-{i}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: app{app}
        app.kubernetes.io/instance: release-{i}
      annotations:
        prometheus.io/scrape: "true"
        prometheus.io/port: "9090"
    spec:
      serviceAccountName: app-{i}
      securityContext:
        runAsNonRoot: true
        runAsUser: 65532
      initContainers:
        - name: migrate
          image: "registry.example.com/team-{ns}/migrate:{app}.0.1"
          command: ["/migrate", "--database=$(DATABASE_URL)"]
          envFrom:
            - secretRef:
                name: app-{i}-db
      containers:
        - name: app
          image: registry.example.com/team-{ns}/app{app}:1.2.3 # the application
          imagePullPolicy: IfNotPresent
          args:
            - --port=8080
            - --log-level=info
          env:
            - name: POD_NAME
              valueFrom:
                fieldRef:
                  fieldPath: metadata.name
            - name: GOMAXPROCS
              value: "2"
          ports:
            - name: http
              containerPort: 8080
              protocol: TCP
          readinessProbe:
            httpGet:
              path: /readyz
              port: http
            periodSeconds: 10
          resources:
            requests:
              cpu: 100m
              memory: 128Mi
            limits:
              memory: 256Mi
          volumeMounts:
            - name: tmp
              mountPath: /tmp
        - name: proxy
          image: 'dhi.io/envoy:1.31'
          ports:
            - name: admin
              containerPort: 9901
      volumes:
        - name: tmp
          emptyDir: {{}}
"#,
        ns = i % 20,
    )
    .unwrap();
}

fn yaml_stream() -> String {
    let mut s = String::with_capacity(N * 2_200);
    for i in 0..N {
        deployment(&mut s, i);
    }
    s
}

/// The same objects as one `List` in JSON (as `kubectl get -o json` prints).
fn json_list(yaml: &str) -> String {
    let found = read_manifests("bench.yaml", yaml).unwrap();
    let items: Vec<serde_json::Value> = found
        .uses
        .chunks(3)
        .enumerate()
        .map(|(i, uses)| {
            serde_json::json!({
                "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": format!("app-{i}"), "labels": {"app.kubernetes.io/name": "app"}},
                "spec": {"replicas": 3, "template": {"spec": {
                    "initContainers": [{"name": "migrate", "image": uses[0].image, "command": ["/migrate"]}],
                    "containers": [
                        {"name": "app", "image": uses[1].image, "ports": [{"containerPort": 8080}],
                         "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}},
                        {"name": "proxy", "image": uses[2].image}
                    ]
                }}}
            })
        })
        .collect();
    serde_json::to_string_pretty(
        &serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items}),
    )
    .unwrap()
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn time<T>(mut f: impl FnMut() -> T) -> Duration {
    let mut times = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let start = Instant::now();
        std::hint::black_box(f());
        times.push(start.elapsed());
    }
    median(times)
}

fn row(what: &str, bytes: usize, t: Duration) {
    let mib = bytes as f64 / (1024.0 * 1024.0);
    println!(
        "| {what} | {:.1} MiB | {:.0} ms | {:.0} MiB/s |",
        mib,
        t.as_secs_f64() * 1000.0,
        mib / t.as_secs_f64()
    );
}

fn events(text: &str) -> usize {
    let mut n = 0;
    for event in saphyr_parser::Parser::new_from_str(text) {
        std::hint::black_box(event.unwrap());
        n += 1;
    }
    n
}

fn main() {
    let yaml = yaml_stream();
    let found = read_manifests("bench.yaml", &yaml).unwrap();
    assert_eq!(found.uses.len(), 3 * N);
    let digest = Digest::of(b"bench");
    let pins: Vec<(&ImageUse, &Digest)> = found.uses.iter().map(|u| (u, &digest)).collect();
    let pinned = pin(&yaml, &pins).unwrap();
    assert_eq!(pinned.matches("@sha256:").count(), 3 * N);
    let json = json_list(&yaml);
    assert_eq!(
        read_manifests("bench.json", &json).unwrap().uses.len(),
        3 * N
    );

    println!(
        "{N} Deployments, {} image uses, median of {RUNS} runs",
        3 * N
    );
    println!();
    println!("| step | input | time | throughput |");
    println!("|---|---|---|---|");
    row(
        "YAML parser events only (floor)",
        yaml.len(),
        time(|| events(&yaml)),
    );
    row(
        "`read_manifests`, YAML stream",
        yaml.len(),
        time(|| read_manifests("bench.yaml", &yaml).unwrap()),
    );
    row(
        "`pin`, every use (YAML)",
        yaml.len(),
        time(|| pin(&yaml, &pins).unwrap()),
    );
    row(
        "`read_manifests`, one JSON `List`",
        json.len(),
        time(|| read_manifests("bench.json", &json).unwrap()),
    );
    row(
        "`serde_json::Value` of the same JSON (reference)",
        json.len(),
        time(|| serde_json::from_str::<serde_json::Value>(&json).unwrap()),
    );
    let laughs = billion_laughs();
    let refused = time(|| read_manifests("lol.yaml", &laughs).is_err());
    println!();
    println!(
        "Billion laughs ({} bytes, 10^9 nodes if expanded): refused in {:.0} µs",
        laughs.len(),
        refused.as_secs_f64() * 1e6
    );
}

fn billion_laughs() -> String {
    let mut text = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..10 {
        let p = i - 1;
        writeln!(
            text,
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]"
        )
        .unwrap();
    }
    text.push_str("kind: List\nitems: *a9\n");
    assert!(read_manifests("lol.yaml", &text).is_err());
    text
}
