//! What the Kubernetes schema cannot see: the schema says a Service's selector is a map of
//! strings, not that it selects the Deployment's pods. Each rule reads the objects as their
//! k8s-openapi types and reports the object and the field at fault.

use crate::kustomize::id;
use crate::quantity::parse_quantity;
use anyhow::{Context, Result};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{ConfigMap, Container, Probe, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;

/// One problem: the object (`Kind/name`), the field (a path as `kubectl explain` writes it)
/// and what is wrong.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub object: String,
    pub field: String,
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.object, self.field, self.message)
    }
}

/// The objects the rules know, read as their types.
#[derive(Default)]
struct Objects {
    deployments: Vec<Deployment>,
    services: Vec<Service>,
    hpas: Vec<HorizontalPodAutoscaler>,
    pdbs: Vec<PodDisruptionBudget>,
    config_maps: Vec<ConfigMap>,
}

fn name(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> String {
    meta.name.clone().unwrap_or_default()
}

// ANCHOR: selector_matches
/// Whether a selector's `matchLabels` pick a pod with `labels`: every pair of the selector is
/// among the labels, with the same value. An empty selector picks nothing here (a Service
/// without a selector routes to no pod).
pub fn selector_matches(
    selector: &BTreeMap<String, String>,
    labels: &BTreeMap<String, String>,
) -> bool {
    // BEGIN SOLUTION selector_matches
    !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
    // END SOLUTION
}
// ANCHOR_END: selector_matches

/// A full label selector: its `matchLabels` and its `matchExpressions` (In, NotIn, Exists,
/// DoesNotExist) all hold.
pub fn label_selector_matches(
    selector: &LabelSelector,
    labels: &BTreeMap<String, String>,
) -> Result<bool> {
    let empty = BTreeMap::new();
    let match_labels = selector.match_labels.as_ref().unwrap_or(&empty);
    let expressions = selector.match_expressions.as_deref().unwrap_or(&[]);
    if match_labels.is_empty() && expressions.is_empty() {
        return Ok(false);
    }
    if !match_labels.is_empty() && !selector_matches(match_labels, labels) {
        return Ok(false);
    }
    for e in expressions {
        let value = labels.get(&e.key);
        let values = e.values.as_deref().unwrap_or(&[]);
        let holds = match e.operator.as_str() {
            "In" => value.is_some_and(|v| values.contains(v)),
            "NotIn" => value.is_none_or(|v| !values.contains(v)),
            "Exists" => value.is_some(),
            "DoesNotExist" => value.is_none(),
            other => anyhow::bail!(
                "matchExpressions: operator {other:?}, expected In, NotIn, Exists or DoesNotExist"
            ),
        };
        if !holds {
            return Ok(false);
        }
    }
    Ok(true)
}

fn pod_labels(d: &Deployment) -> BTreeMap<String, String> {
    d.spec
        .template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .unwrap_or_default()
}

fn containers(d: &Deployment) -> &[Container] {
    d.spec
        .template
        .spec
        .as_ref()
        .map(|p| p.containers.as_slice())
        .unwrap_or(&[])
}

/// Whether `port` (a number or a port's name) is one of the container's ports.
fn port_exists(container: &Container, port: &IntOrString) -> bool {
    container
        .ports
        .as_deref()
        .unwrap_or(&[])
        .iter()
        .any(|p| match port {
            IntOrString::Int(n) => p.container_port == *n,
            IntOrString::String(s) => p.name.as_deref() == Some(s.as_str()),
        })
}

fn probe_port(probe: &Probe) -> Option<&IntOrString> {
    probe
        .http_get
        .as_ref()
        .map(|h| &h.port)
        .or(probe.tcp_socket.as_ref().map(|t| &t.port))
}

fn read(objects: &[Value]) -> Result<Objects> {
    let mut out = Objects::default();
    for o in objects {
        let what = id(o);
        let kind = o.get("kind").and_then(Value::as_str).unwrap_or("");
        let context = || format!("{what}: does not read as a {kind}");
        match kind {
            "Deployment" => out
                .deployments
                .push(serde_json::from_value(o.clone()).with_context(context)?),
            "Service" => out
                .services
                .push(serde_json::from_value(o.clone()).with_context(context)?),
            "HorizontalPodAutoscaler" => out
                .hpas
                .push(serde_json::from_value(o.clone()).with_context(context)?),
            "PodDisruptionBudget" => out
                .pdbs
                .push(serde_json::from_value(o.clone()).with_context(context)?),
            "ConfigMap" => out
                .config_maps
                .push(serde_json::from_value(o.clone()).with_context(context)?),
            _ => {}
        }
    }
    Ok(out)
}

// ANCHOR: lint
/// Every finding on a set of objects (one environment's rendered manifests). An object that
/// does not read as its kind is an error; an empty list means the set is consistent.
pub fn lint(objects: &[Value]) -> Result<Vec<Finding>> {
    let set = read(objects)?;
    let mut findings = Vec::new();
    let mut find = |object: String, field: String, message: String| {
        findings.push(Finding {
            object,
            field,
            message,
        })
    };
    let config_maps: Vec<String> = set.config_maps.iter().map(|c| name(&c.metadata)).collect();

    for d in &set.deployments {
        let object = format!("Deployment/{}", name(&d.metadata));
        let spec = &d.spec;
        let labels = pod_labels(d);
        if !label_selector_matches(&spec.selector, &labels)? {
            find(
                object.clone(),
                "spec.selector".into(),
                format!("does not select the pod template's labels {labels:?}"),
            );
        }
        let pod = spec.template.spec.as_ref();
        let pod_non_root = pod
            .and_then(|p| p.security_context.as_ref())
            .and_then(|s| s.run_as_non_root)
            == Some(true);
        for (i, c) in containers(d).iter().enumerate() {
            let at = format!("spec.template.spec.containers[{i}]");
            match c.image.as_deref().map(crate::kustomize::split_image) {
                None => find(object.clone(), format!("{at}.image"), "no image".into()),
                Some((_, None)) | Some((_, Some("latest"))) => find(
                    object.clone(),
                    format!("{at}.image"),
                    format!(
                        "{:?}: name a version (a tag or a digest), not latest, so that a rollout is reproducible and reversible",
                        c.image.as_deref().unwrap_or("")
                    ),
                ),
                _ => {}
            }
            // ANCHOR: probes_and_limits
            for (probe, field) in [
                (&c.readiness_probe, "readinessProbe"),
                (&c.liveness_probe, "livenessProbe"),
                (&c.startup_probe, "startupProbe"),
            ] {
                match probe {
                    None if field != "startupProbe" => find(object.clone(), format!("{at}.{field}"), "missing: without it the kubelet cannot tell a pod that is up from one that serves".into()),
                    None => {}
                    Some(p) => {
                        if let Some(port) = probe_port(p)
                            && !port_exists(c, port)
                        {
                            let kind = if p.http_get.is_some() { "httpGet" } else { "tcpSocket" };
                            find(object.clone(), format!("{at}.{field}.{kind}.port"), format!("{port:?} is not a port of the container"));
                        }
                    }
                }
            }
            let resources = c.resources.as_ref();
            for resource in ["cpu", "memory"] {
                let request = resources
                    .and_then(|r| r.requests.as_ref())
                    .and_then(|m| m.get(resource));
                let limit = resources
                    .and_then(|r| r.limits.as_ref())
                    .and_then(|m| m.get(resource));
                match (request, limit) {
                    (None, _) => find(
                        object.clone(),
                        format!("{at}.resources.requests.{resource}"),
                        "missing: the scheduler places the pod as if it needed nothing".into(),
                    ),
                    (_, None) => find(
                        object.clone(),
                        format!("{at}.resources.limits.{resource}"),
                        "missing: the container may take the whole node".into(),
                    ),
                    (Some(r), Some(l)) => {
                        let (rv, lv) = (parse_quantity(&r.0)?, parse_quantity(&l.0)?);
                        if lv < rv {
                            find(
                                object.clone(),
                                format!("{at}.resources.limits.{resource}"),
                                format!("{} is below the request {}", l.0, r.0),
                            );
                        }
                    }
                }
            }
            // ANCHOR_END: probes_and_limits
            let sc = c.security_context.as_ref();
            let non_root = pod_non_root || sc.and_then(|s| s.run_as_non_root) == Some(true);
            if !non_root {
                find(object.clone(), format!("{at}.securityContext.runAsNonRoot"), "not true (here or in the pod's securityContext): the container may run as root".into());
            }
            if sc.and_then(|s| s.read_only_root_filesystem) != Some(true) {
                find(
                    object.clone(),
                    format!("{at}.securityContext.readOnlyRootFilesystem"),
                    "not true: the container can write over its own image".into(),
                );
            }
            if sc.and_then(|s| s.allow_privilege_escalation) != Some(false) {
                find(
                    object.clone(),
                    format!("{at}.securityContext.allowPrivilegeEscalation"),
                    "not false".into(),
                );
            }
            for (j, e) in c.env_from.as_deref().unwrap_or(&[]).iter().enumerate() {
                if let Some(r) = &e.config_map_ref
                    && !config_maps.contains(&r.name)
                    && r.optional != Some(true)
                {
                    find(
                        object.clone(),
                        format!("{at}.envFrom[{j}].configMapRef.name"),
                        format!("no ConfigMap {:?} in this set", r.name),
                    );
                }
            }
        }
    }

    for s in &set.services {
        let object = format!("Service/{}", name(&s.metadata));
        let selector = s
            .spec
            .as_ref()
            .and_then(|p| p.selector.clone())
            .unwrap_or_default();
        let selected: Vec<&Deployment> = set
            .deployments
            .iter()
            .filter(|d| selector_matches(&selector, &pod_labels(d)))
            .collect();
        if selected.is_empty() {
            find(
                object,
                "spec.selector".into(),
                format!("{selector:?} selects the pods of no Deployment in this set"),
            );
            continue;
        }
        for (i, p) in s
            .spec
            .as_ref()
            .and_then(|p| p.ports.as_ref())
            .map(Vec::as_slice)
            .unwrap_or(&[])
            .iter()
            .enumerate()
        {
            let target = p.target_port.clone().unwrap_or(IntOrString::Int(p.port));
            if !selected
                .iter()
                .all(|d| containers(d).iter().any(|c| port_exists(c, &target)))
            {
                find(
                    object.clone(),
                    format!("spec.ports[{i}].targetPort"),
                    format!("{target:?} is not a port of the selected pods"),
                );
            }
        }
    }

    // The fewest replicas each Deployment can run with: an HPA's minimum when one scales it.
    let mut fewest: BTreeMap<String, i32> = set
        .deployments
        .iter()
        .map(|d| (name(&d.metadata), d.spec.replicas.unwrap_or(1)))
        .collect();
    for h in &set.hpas {
        let object = format!("HorizontalPodAutoscaler/{}", name(&h.metadata));
        let spec = &h.spec;
        let target = &spec.scale_target_ref;
        let scaled = set
            .deployments
            .iter()
            .find(|d| target.kind == "Deployment" && name(&d.metadata) == target.name);
        let Some(deployment) = scaled else {
            find(
                object,
                "spec.scaleTargetRef.name".into(),
                format!("no {} {:?} in this set", target.kind, target.name),
            );
            continue;
        };
        let min = spec.min_replicas.unwrap_or(1);
        if min > spec.max_replicas {
            find(
                object.clone(),
                "spec.minReplicas".into(),
                format!("{min} is above maxReplicas {}", spec.max_replicas),
            );
        }
        fewest.insert(target.name.clone(), min);
        let on_cpu = spec
            .metrics
            .as_deref()
            .unwrap_or(&[])
            .iter()
            .any(|m| m.resource.as_ref().is_some_and(|r| r.name == "cpu"));
        let cpu_requested = containers(deployment).iter().all(|c| {
            c.resources
                .as_ref()
                .and_then(|r| r.requests.as_ref())
                .is_some_and(|r| r.contains_key("cpu"))
        });
        if on_cpu && !cpu_requested {
            find(object, "spec.metrics".into(), "scales on CPU utilisation, a share of the CPU request, but a container requests no CPU".into());
        }
    }

    for p in &set.pdbs {
        let object = format!("PodDisruptionBudget/{}", name(&p.metadata));
        let Some(spec) = &p.spec else { continue };
        let selector = spec.selector.clone().unwrap_or_default();
        let mut protected = Vec::new();
        for d in &set.deployments {
            if label_selector_matches(&selector, &pod_labels(d))? {
                protected.push(d);
            }
        }
        if protected.is_empty() {
            find(
                object,
                "spec.selector".into(),
                "selects the pods of no Deployment in this set".into(),
            );
            continue;
        }
        for d in protected {
            let replicas = fewest.get(&name(&d.metadata)).copied().unwrap_or(1);
            let available = match &spec.min_available {
                Some(IntOrString::Int(n)) => Some(*n),
                Some(IntOrString::String(s)) => {
                    let share: f64 = s.trim_end_matches('%').parse().map_err(|_| {
                        anyhow::anyhow!(
                            "{object} spec.minAvailable: {s:?} is not a number or a percentage"
                        )
                    })?;
                    Some((share / 100.0 * f64::from(replicas)).ceil() as i32)
                }
                None => None,
            };
            if let Some(n) = available
                && n >= replicas
            {
                find(
                    object.clone(),
                    "spec.minAvailable".into(),
                    format!(
                        "{n} of {replicas} replicas: no pod may ever be evicted, so node drains hang"
                    ),
                );
            }
        }
    }
    Ok(findings)
}
// ANCHOR_END: lint

/// A break planted in a set of objects: the object (`Kind/name`), a JSON pointer in it and the
/// value put there (`None`: the key removed).
#[derive(Debug, Clone)]
pub struct Plant {
    pub what: &'static str,
    pub object: &'static str,
    pub pointer: &'static str,
    pub value: Option<Value>,
}

/// The breaks the lab plants in the production manifests, each a mistake seen in real clusters.
pub fn plants() -> Vec<Plant> {
    let plant = |what, object, pointer, value| Plant {
        what,
        object,
        pointer,
        value,
    };
    vec![
        plant(
            "the pods' name label changed",
            "Deployment/scorer",
            "/spec/template/metadata/labels/app.kubernetes.io~1name",
            Some(Value::from("scorer-v2")),
        ),
        plant(
            "readiness probe on a misspelt port",
            "Deployment/scorer",
            "/spec/template/spec/containers/0/readinessProbe/httpGet/port",
            Some(Value::from("htpp")),
        ),
        plant(
            "no liveness probe",
            "Deployment/scorer",
            "/spec/template/spec/containers/0/livenessProbe",
            None,
        ),
        plant(
            "memory limit below the request",
            "Deployment/scorer",
            "/spec/template/spec/containers/0/resources/limits/memory",
            Some(Value::from("32Mi")),
        ),
        plant(
            "runAsNonRoot removed",
            "Deployment/scorer",
            "/spec/template/spec/securityContext/runAsNonRoot",
            None,
        ),
        plant(
            "image tagged latest",
            "Deployment/scorer",
            "/spec/template/spec/containers/0/image",
            Some(Value::from("localhost/week29-scorer:latest")),
        ),
        plant(
            "ConfigMap renamed",
            "ConfigMap/scorer-config",
            "/metadata/name",
            Some(Value::from("scorer-settings")),
        ),
        plant(
            "Service to a port the pods lack",
            "Service/scorer",
            "/spec/ports/0/targetPort",
            Some(Value::from(8080)),
        ),
        plant(
            "HPA aimed at another Deployment",
            "HorizontalPodAutoscaler/scorer",
            "/spec/scaleTargetRef/name",
            Some(Value::from("scorer-v2")),
        ),
        plant(
            "PDB that keeps every replica",
            "PodDisruptionBudget/scorer",
            "/spec/minAvailable",
            Some(Value::from(3)),
        ),
    ]
}

/// `objects` with `plant` applied. The object and the pointer's parent must exist.
pub fn apply_plant(objects: &[Value], plant: &Plant) -> Result<Vec<Value>> {
    let mut out = objects.to_vec();
    let object = out
        .iter_mut()
        .find(|o| id(o) == plant.object)
        .with_context(|| format!("plant {:?}: no {} in the set", plant.what, plant.object))?;
    let (parent, key) = plant.pointer.rsplit_once('/').with_context(|| {
        format!(
            "plant {:?}: {:?} is not a JSON pointer",
            plant.what, plant.pointer
        )
    })?;
    let key = key.replace("~1", "/").replace("~0", "~");
    let parent = object
        .pointer_mut(parent)
        .and_then(Value::as_object_mut)
        .with_context(|| {
            format!(
                "plant {:?}: {} has no object at {parent:?}",
                plant.what, plant.object
            )
        })?;
    match &plant.value {
        Some(v) => {
            parent.insert(key, v.clone());
        }
        None => {
            parent.remove(&key);
        }
    }
    Ok(out)
}
