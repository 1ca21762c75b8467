//! The service on Kubernetes, as k8s-openapi types (week 29's way): one replica — its
//! registry, audit log and request store are SQLite files on a volume with one writer, so an
//! update stops the old pod before the new one starts (`Recreate`) — running as a non-root user
//! on a read-only root file system, its audit key from a mounted Secret (never an environment
//! value in the manifest), probes on `/healthz` and `/readyz`. Written to
//! `deploy/production-system.yaml`, validated against the Kubernetes schemas in CI
//! (`scripts/check-k8s.sh`) and linted by week 29's consistency checks.

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStrategy};
use k8s_openapi::api::core::v1::{
    Capabilities, Container, ContainerPort, EnvVar, HTTPGetAction, PersistentVolumeClaim,
    PersistentVolumeClaimSpec, PersistentVolumeClaimVolumeSource, PodSecurityContext, PodSpec,
    PodTemplateSpec, Probe, ResourceRequirements, SeccompProfile, SecretVolumeSource,
    SecurityContext, Service, ServicePort, ServiceSpec, Volume, VolumeMount,
    VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::Value;
use std::collections::BTreeMap;

pub const NAME: &str = "production-system";
pub const PORT: i32 = 8032;
/// Where the audit key's Secret is mounted, and the file the service reads.
pub const SECRET_DIR: &str = "/var/run/secrets/week32";
pub const AUDIT_KEY_FILE: &str = "/var/run/secrets/week32/audit-key";
/// The state volume: registry, audit log, request store.
pub const STATE_DIR: &str = "/var/lib/week32";

fn labels() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".to_string(), NAME.to_string()),
        (
            "app.kubernetes.io/part-of".to_string(),
            "workbook-week32".to_string(),
        ),
    ])
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

fn probe(path: &str, period: i32, failures: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.to_string()),
            port: IntOrString::String("http".to_string()),
            ..Default::default()
        }),
        period_seconds: Some(period),
        failure_threshold: Some(failures),
        ..Default::default()
    }
}

/// The Deployment.
pub fn deployment() -> Deployment {
    let container = Container {
        name: NAME.to_string(),
        image: Some("localhost/week32-production-system:0.1.0".to_string()),
        args: Some(vec![
            "serve".to_string(),
            "--addr".to_string(),
            format!("0.0.0.0:{PORT}"),
            "--state".to_string(),
            STATE_DIR.to_string(),
        ]),
        ports: Some(vec![ContainerPort {
            name: Some("http".to_string()),
            container_port: PORT,
            ..Default::default()
        }]),
        env: Some(vec![EnvVar {
            name: "WB32_AUDIT_KEY_FILE".to_string(),
            value: Some(AUDIT_KEY_FILE.to_string()),
            ..Default::default()
        }]),
        resources: Some(ResourceRequirements {
            requests: Some(quantities("250m", "128Mi")),
            limits: Some(quantities("1", "256Mi")),
            ..Default::default()
        }),
        startup_probe: Some(probe("/healthz", 1, 30)),
        liveness_probe: Some(probe("/healthz", 10, 3)),
        readiness_probe: Some(probe("/readyz", 2, 2)),
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
                name: "audit-key".to_string(),
                mount_path: SECRET_DIR.to_string(),
                read_only: Some(true),
                ..Default::default()
            },
            VolumeMount {
                name: "state".to_string(),
                mount_path: STATE_DIR.to_string(),
                ..Default::default()
            },
        ]),
        ..Default::default()
    };
    Deployment {
        metadata: meta(NAME),
        spec: DeploymentSpec {
            replicas: Some(1),
            selector: LabelSelector {
                match_labels: Some(BTreeMap::from([(
                    "app.kubernetes.io/name".to_string(),
                    NAME.to_string(),
                )])),
                ..Default::default()
            },
            strategy: Some(DeploymentStrategy {
                type_: Some("Recreate".to_string()),
                rolling_update: None,
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
                        fs_group: Some(65532),
                        seccomp_profile: Some(SeccompProfile {
                            type_: "RuntimeDefault".to_string(),
                            localhost_profile: None,
                        }),
                        ..Default::default()
                    }),
                    containers: vec![container],
                    volumes: Some(vec![
                        Volume {
                            name: "audit-key".to_string(),
                            secret: Some(SecretVolumeSource {
                                secret_name: Some("week32-audit-key".to_string()),
                                // 0440: owner and the pod's fsGroup may read, nobody else.
                                default_mode: Some(0o440),
                                ..Default::default()
                            }),
                            ..Default::default()
                        },
                        Volume {
                            name: "state".to_string(),
                            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                                claim_name: format!("{NAME}-state"),
                                read_only: None,
                            }),
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

/// The Service: port 80 in the cluster to the pod's `http` port.
pub fn service() -> Service {
    Service {
        metadata: meta(NAME),
        spec: Some(ServiceSpec {
            selector: Some(BTreeMap::from([(
                "app.kubernetes.io/name".to_string(),
                NAME.to_string(),
            )])),
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

/// The state volume's claim: one node writes it (`ReadWriteOnce`).
pub fn state_claim() -> PersistentVolumeClaim {
    PersistentVolumeClaim {
        metadata: meta(&format!("{NAME}-state")),
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".to_string()]),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([(
                    "storage".to_string(),
                    Quantity("1Gi".to_string()),
                )])),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The three objects as JSON values (what `deploy/production-system.yaml` holds).
pub fn objects() -> Result<Vec<Value>, serde_json::Error> {
    Ok(vec![
        serde_json::to_value(state_claim())?,
        serde_json::to_value(deployment())?,
        serde_json::to_value(service())?,
    ])
}
