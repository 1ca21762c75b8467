//! # Week 29 — Containers and Kubernetes for ML
//!
//! [`service`]: the scorer that goes into the images and onto the cluster (the same source as
//! the `service/` package the images build); [`containerfile`]: Containerfiles read and linted
//! for what makes images slow to rebuild or unsafe to run; [`manifests`]: the Kubernetes objects
//! as Rust types (k8s-openapi); [`kustomize`]: a base and its overlays rendered as `kubectl
//! apply -k` renders them; [`lint`]: the consistency a schema cannot see (selectors, probe
//! ports, limits and requests, references); [`quantity`]: `250m` and `128Mi` as numbers.

pub mod containerfile;
pub mod files;
pub mod kustomize;
pub mod lint;
pub mod manifests;
pub mod quantity;
#[path = "../service/src/app.rs"]
pub mod service;
