//! The scorer's Kubernetes objects as Rust types (k8s-openapi, API version 1.37): the base that
//! the overlays patch. A typo in a field name here is a compile error, not a pod that never
//! starts; what types cannot see (a selector that selects nothing, a probe on a port that does
//! not exist) is [`crate::lint`]'s job.

use anyhow::Result;
use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment,
};
use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HPAScalingPolicy, HPAScalingRules, HorizontalPodAutoscaler,
    HorizontalPodAutoscalerBehavior, HorizontalPodAutoscalerSpec, MetricIdentifier, MetricSpec,
    MetricTarget, PodsMetricSource, ResourceMetricSource,
};
use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMap, ConfigMapEnvSource, Container, ContainerPort, EmptyDirVolumeSource,
    EnvFromSource, EnvVar, HTTPGetAction, PodSecurityContext, PodSpec, PodTemplateSpec, Probe,
    ResourceRequirements, SeccompProfile, SecretVolumeSource, SecurityContext, Service,
    ServicePort, ServiceSpec, Volume, VolumeMount,
};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::Value;
use std::collections::BTreeMap;

/// The scorer's name: the Deployment's, the Service's, the HPA's and the PDB's.
pub const NAME: &str = "scorer";
/// The image the base names; the overlays set its tag.
pub const IMAGE: &str = "localhost/week29-scorer";
/// The port the container listens on (the ConfigMap's `ADDR`).
pub const PORT: i32 = 8029;
/// Where the token Secret is mounted, and its name (created outside git, see the chapter).
pub const TOKEN_DIR: &str = "/var/run/secrets/scorer";
pub const TOKEN_SECRET: &str = "scorer-token";

fn labels() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".to_string(), NAME.to_string()),
        (
            "app.kubernetes.io/part-of".to_string(),
            "workbook-week29".to_string(),
        ),
    ])
}

/// The labels the selectors use: a subset of the pod's labels that never changes (a
/// Deployment's selector is immutable).
fn selector_labels() -> BTreeMap<String, String> {
    BTreeMap::from([("app.kubernetes.io/name".to_string(), NAME.to_string())])
}

fn meta(name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        labels: Some(labels()),
        ..Default::default()
    }
}

fn quantities(cpu: &str, memory: &str) -> BTreeMap<String, Quantity> {
    BTreeMap::from([
        ("cpu".to_string(), Quantity(cpu.to_string())),
        ("memory".to_string(), Quantity(memory.to_string())),
    ])
}

fn http_probe(path: &str, period: i32, failures: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.to_string()),
            port: IntOrString::String("http".to_string()),
            ..Default::default()
        }),
        period_seconds: Some(period),
        failure_threshold: Some(failures),
        timeout_seconds: Some(2),
        ..Default::default()
    }
}

// ANCHOR: configmap
/// The service's settings: the environment variables `service::Config::from_env` reads.
pub fn config_map() -> ConfigMap {
    ConfigMap {
        metadata: meta("scorer-config"),
        data: Some(BTreeMap::from([
            ("ADDR".to_string(), format!("0.0.0.0:{PORT}")),
            ("WARMUP_MS".to_string(), "2000".to_string()),
            ("TOKEN_FILE".to_string(), format!("{TOKEN_DIR}/token")),
        ])),
        ..Default::default()
    }
}
// ANCHOR_END: configmap

// ANCHOR: deployment
/// The Deployment: two replicas rolled one at a time without losing capacity, a pod that runs
/// as a non-root user on a read-only root file system with no capabilities, resources requested
/// and limited, and the three probes on the service's own endpoints.
pub fn deployment() -> Deployment {
    let container = Container {
        name: "scorer".to_string(),
        image: Some(format!("{IMAGE}:0.1.0")),
        ports: Some(vec![ContainerPort {
            name: Some("http".to_string()),
            container_port: PORT,
            ..Default::default()
        }]),
        env_from: Some(vec![EnvFromSource {
            config_map_ref: Some(ConfigMapEnvSource {
                name: "scorer-config".to_string(),
                optional: None,
            }),
            ..Default::default()
        }]),
        env: Some(vec![EnvVar {
            name: "RUST_BACKTRACE".to_string(),
            value: Some("1".to_string()),
            ..Default::default()
        }]),
        resources: Some(ResourceRequirements {
            requests: Some(quantities("100m", "32Mi")),
            limits: Some(quantities("500m", "64Mi")),
            ..Default::default()
        }),
        // Starting: up to 30 × 1 s for the port to answer, then liveness takes over.
        startup_probe: Some(http_probe("/healthz", 1, 30)),
        liveness_probe: Some(http_probe("/healthz", 10, 3)),
        // Traffic only once the model is loaded, and not while draining.
        readiness_probe: Some(http_probe("/readyz", 2, 2)),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            read_only_root_filesystem: Some(true),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".to_string()]),
                add: None,
            }),
            ..Default::default()
        }),
        volume_mounts: Some(vec![
            VolumeMount {
                name: "token".to_string(),
                mount_path: TOKEN_DIR.to_string(),
                read_only: Some(true),
                ..Default::default()
            },
            VolumeMount {
                name: "tmp".to_string(),
                mount_path: "/tmp".to_string(),
                ..Default::default()
            },
        ]),
        ..Default::default()
    };
    Deployment {
        metadata: meta(NAME),
        spec: DeploymentSpec {
            replicas: Some(2),
            selector: LabelSelector {
                match_labels: Some(selector_labels()),
                ..Default::default()
            },
            strategy: Some(DeploymentStrategy {
                type_: Some("RollingUpdate".to_string()),
                rolling_update: Some(RollingUpdateDeployment {
                    max_surge: Some(IntOrString::Int(1)),
                    max_unavailable: Some(IntOrString::Int(0)),
                }),
            }),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels()),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    automount_service_account_token: Some(false),
                    termination_grace_period_seconds: Some(30),
                    security_context: Some(PodSecurityContext {
                        run_as_non_root: Some(true),
                        run_as_user: Some(65532),
                        run_as_group: Some(65532),
                        seccomp_profile: Some(SeccompProfile {
                            type_: "RuntimeDefault".to_string(),
                            localhost_profile: None,
                        }),
                        ..Default::default()
                    }),
                    containers: vec![container],
                    volumes: Some(vec![
                        Volume {
                            name: "token".to_string(),
                            secret: Some(SecretVolumeSource {
                                secret_name: Some(TOKEN_SECRET.to_string()),
                                ..Default::default()
                            }),
                            ..Default::default()
                        },
                        Volume {
                            name: "tmp".to_string(),
                            empty_dir: Some(EmptyDirVolumeSource::default()),
                            ..Default::default()
                        },
                    ]),
                    ..Default::default()
                }),
            },
            ..Default::default()
        },
        ..Default::default()
    }
}
// ANCHOR_END: deployment

/// The Service: port 80 in the cluster, to the pods' `http` port.
pub fn service() -> Service {
    Service {
        metadata: meta(NAME),
        spec: Some(ServiceSpec {
            selector: Some(selector_labels()),
            ports: Some(vec![ServicePort {
                name: Some("http".to_string()),
                port: 80,
                target_port: Some(IntOrString::String("http".to_string())),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

// ANCHOR: hpa
/// The HorizontalPodAutoscaler: 2 to 6 replicas, on CPU (70 % of the request) and on a custom
/// metric, the requests in flight per pod that `/metrics` exports (served to the HPA by a
/// metrics adapter such as prometheus-adapter); scale up at once, down slowly.
pub fn hpa() -> HorizontalPodAutoscaler {
    HorizontalPodAutoscaler {
        metadata: meta(NAME),
        spec: HorizontalPodAutoscalerSpec {
            scale_target_ref: CrossVersionObjectReference {
                api_version: Some("apps/v1".to_string()),
                kind: "Deployment".to_string(),
                name: NAME.to_string(),
            },
            min_replicas: Some(2),
            max_replicas: 6,
            metrics: Some(vec![
                MetricSpec {
                    type_: "Resource".to_string(),
                    resource: Some(ResourceMetricSource {
                        name: "cpu".to_string(),
                        target: MetricTarget {
                            type_: "Utilization".to_string(),
                            average_utilization: Some(70),
                            ..Default::default()
                        },
                    }),
                    ..Default::default()
                },
                MetricSpec {
                    type_: "Pods".to_string(),
                    pods: Some(PodsMetricSource {
                        metric: MetricIdentifier {
                            name: "scorer_inflight_requests".to_string(),
                            selector: None,
                        },
                        target: MetricTarget {
                            type_: "AverageValue".to_string(),
                            average_value: Some(Quantity("4".to_string())),
                            ..Default::default()
                        },
                    }),
                    ..Default::default()
                },
            ]),
            behavior: Some(HorizontalPodAutoscalerBehavior {
                scale_up: Some(HPAScalingRules {
                    stabilization_window_seconds: Some(0),
                    ..Default::default()
                }),
                scale_down: Some(HPAScalingRules {
                    stabilization_window_seconds: Some(300),
                    policies: Some(vec![HPAScalingPolicy {
                        type_: "Pods".to_string(),
                        value: 1,
                        period_seconds: 60,
                    }]),
                    ..Default::default()
                }),
            }),
        },
        ..Default::default()
    }
}
// ANCHOR_END: hpa

/// The PodDisruptionBudget: a node drain may evict one pod at a time, never below one ready.
pub fn pdb() -> PodDisruptionBudget {
    PodDisruptionBudget {
        metadata: meta(NAME),
        spec: Some(PodDisruptionBudgetSpec {
            min_available: Some(IntOrString::Int(1)),
            selector: Some(LabelSelector {
                match_labels: Some(selector_labels()),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The base's objects as JSON values (what the overlays patch), each with the file it is
/// written to, in the order `kubectl apply` should see them.
pub fn base() -> Result<Vec<(String, Value)>> {
    Ok(vec![
        (
            "configmap.yaml".to_string(),
            serde_json::to_value(config_map())?,
        ),
        (
            "deployment.yaml".to_string(),
            serde_json::to_value(deployment())?,
        ),
        ("service.yaml".to_string(), serde_json::to_value(service())?),
        ("hpa.yaml".to_string(), serde_json::to_value(hpa())?),
        ("pdb.yaml".to_string(), serde_json::to_value(pdb())?),
    ])
}
