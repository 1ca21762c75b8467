//! A base and its overlays rendered the way `kubectl apply -k` (kustomize) renders them, for the
//! fields this lab's kustomizations use: `resources` (files, or folders with a kustomization),
//! `patches` (strategic-merge patches from files), `images`, `replicas`, `namespace` and
//! `labels`. Any other field is refused by name rather than ignored.

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Kustomization {
    #[serde(default)]
    api_version: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    resources: Vec<String>,
    #[serde(default)]
    patches: Vec<PatchRef>,
    #[serde(default)]
    images: Vec<ImageRule>,
    #[serde(default)]
    replicas: Vec<ReplicaRule>,
    #[serde(default)]
    labels: Vec<LabelRule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchRef {
    path: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ImageRule {
    name: String,
    #[serde(default)]
    new_name: Option<String>,
    #[serde(default)]
    new_tag: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplicaRule {
    name: String,
    count: i64,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct LabelRule {
    pairs: BTreeMap<String, String>,
    #[serde(default)]
    include_templates: bool,
}

/// Every YAML document of `text` (documents separated by `---`), empty ones skipped.
pub fn parse_documents(text: &str, origin: &str) -> Result<Vec<Value>> {
    let mut docs = Vec::new();
    for (i, doc) in serde_norway::Deserializer::from_str(text).enumerate() {
        let value = Value::deserialize(doc)
            .with_context(|| format!("{origin}: document {} is not valid YAML", i + 1))?;
        if !value.is_null() {
            docs.push(value);
        }
    }
    Ok(docs)
}

/// The objects as one multi-document YAML file.
pub fn to_yaml(objects: &[Value]) -> Result<String> {
    let mut out = String::new();
    for (i, o) in objects.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        out.push_str(&serde_norway::to_string(o)?);
    }
    Ok(out)
}

/// `Kind/name` of an object, for messages and to find a patch's target.
pub fn id(object: &Value) -> String {
    format!(
        "{}/{}",
        object.get("kind").and_then(Value::as_str).unwrap_or("?"),
        object
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("?")
    )
}

// ANCHOR: strategic_merge
/// Applies a strategic-merge patch to `target`, as kustomize does for the lists this lab
/// patches: objects merge key by key, recursively; a `null` deletes the key; a list whose items
/// all carry a `name` (containers, ports, env, volumes) merges item by item on that name (new
/// names are appended); any other value, lists included, replaces the target's.
pub fn strategic_merge(target: &mut Value, patch: &Value) {
    // BEGIN SOLUTION strategic_merge
    match patch {
        Value::Object(fields) => {
            if !target.is_object() {
                *target = Value::Object(Default::default());
            }
            if let Value::Object(map) = target {
                for (key, value) in fields {
                    if value.is_null() {
                        map.remove(key);
                    } else if let Some(existing) = map.get_mut(key) {
                        strategic_merge(existing, value);
                    } else {
                        let mut fresh = Value::Null;
                        strategic_merge(&mut fresh, value);
                        map.insert(key.clone(), fresh);
                    }
                }
            }
        }
        Value::Array(items) => {
            let named = |list: &[Value]| {
                list.iter()
                    .all(|v| v.get("name").and_then(Value::as_str).is_some())
            };
            match target {
                Value::Array(existing) if !items.is_empty() && named(items) && named(existing) => {
                    for item in items {
                        let name = &item["name"];
                        match existing.iter_mut().find(|e| &e["name"] == name) {
                            Some(e) => strategic_merge(e, item),
                            None => existing.push(item.clone()),
                        }
                    }
                }
                _ => *target = patch.clone(),
            }
        }
        other => *target = other.clone(),
    }
    // END SOLUTION
}
// ANCHOR_END: strategic_merge

/// Splits `image` into its name and tag (`registry:5000/app:1.2` → `registry:5000/app`, `1.2`);
/// the tag is `None` when the image names none.
pub fn split_image(image: &str) -> (&str, Option<&str>) {
    let image = image.split('@').next().unwrap_or(image);
    match image.rfind(':') {
        Some(i) if !image[i..].contains('/') => (&image[..i], Some(&image[i + 1..])),
        _ => (image, None),
    }
}

fn containers_mut(object: &mut Value) -> Vec<&mut Value> {
    let mut out = Vec::new();
    if let Some(spec) = object.pointer_mut("/spec/template/spec")
        && let Some(map) = spec.as_object_mut()
    {
        for (key, list) in map.iter_mut() {
            if (key == "containers" || key == "initContainers")
                && let Some(items) = list.as_array_mut()
            {
                out.extend(items.iter_mut());
            }
        }
    }
    out
}

// ANCHOR: render
/// Renders the kustomization in `dir`: its resources (rendered first when they are folders),
/// then its patches, images, replicas, labels and namespace, in kustomize's order.
pub fn render(dir: &Path) -> Result<Vec<Value>> {
    render_at(dir, 0)
}

fn render_at(dir: &Path, depth: usize) -> Result<Vec<Value>> {
    if depth > 16 {
        bail!(
            "{}: kustomizations nested more than 16 deep (a cycle?)",
            dir.display()
        );
    }
    let file = dir.join("kustomization.yaml");
    let text = std::fs::read_to_string(&file)
        .with_context(|| format!("{}: cannot read it", file.display()))?;
    let k: Kustomization = serde_norway::from_str(&text)
        .with_context(|| format!("{}: not a kustomization this renderer knows (fields: resources, patches, images, replicas, namespace, labels)", file.display()))?;
    if let Some(kind) = &k.kind
        && kind != "Kustomization"
    {
        bail!("{}: kind {kind:?}, expected Kustomization", file.display());
    }
    if let Some(version) = &k.api_version
        && !version.starts_with("kustomize.config.k8s.io/")
    {
        bail!(
            "{}: apiVersion {version:?}, expected kustomize.config.k8s.io/v1beta1",
            file.display()
        );
    }
    let mut objects = Vec::new();
    for resource in &k.resources {
        let path: PathBuf = dir.join(resource);
        if path.is_dir() {
            objects.extend(render_at(&path, depth + 1)?);
        } else {
            let text = std::fs::read_to_string(&path).with_context(|| {
                format!("{}: resource {resource:?} cannot be read", file.display())
            })?;
            objects.extend(parse_documents(&text, &path.display().to_string())?);
        }
    }
    for p in &k.patches {
        let path = dir.join(&p.path);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("{}: patch {:?} cannot be read", file.display(), p.path))?;
        for patch in parse_documents(&text, &path.display().to_string())? {
            let target = id(&patch);
            let found = objects.iter_mut().find(|o| id(o) == target);
            let Some(object) = found else {
                bail!(
                    "{}: the patch targets {target}, which no resource defines",
                    path.display()
                );
            };
            strategic_merge(object, &patch);
        }
    }
    for rule in &k.images {
        for object in objects.iter_mut() {
            for container in containers_mut(object) {
                let Some(image) = container.get("image").and_then(Value::as_str) else {
                    continue;
                };
                let (name, tag) = split_image(image);
                if name != rule.name {
                    continue;
                }
                let name = rule.new_name.clone().unwrap_or_else(|| name.to_string());
                let image = match rule.new_tag.as_deref().or(tag) {
                    Some(tag) => format!("{name}:{tag}"),
                    None => name,
                };
                container["image"] = Value::String(image);
            }
        }
    }
    for rule in &k.replicas {
        let target = objects.iter_mut().find(|o| {
            o["kind"] == "Deployment"
                && o.pointer("/metadata/name").and_then(Value::as_str) == Some(&rule.name)
        });
        let Some(object) = target else {
            bail!(
                "{}: replicas for {:?}, which is no Deployment here",
                file.display(),
                rule.name
            );
        };
        object["spec"]["replicas"] = Value::from(rule.count);
    }
    for rule in &k.labels {
        for object in objects.iter_mut() {
            let pairs: serde_json::Map<String, Value> = rule
                .pairs
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect();
            strategic_merge(
                &mut object["metadata"]["labels"],
                &Value::Object(pairs.clone()),
            );
            if rule.include_templates && object.pointer("/spec/template").is_some() {
                strategic_merge(
                    &mut object["spec"]["template"]["metadata"]["labels"],
                    &Value::Object(pairs),
                );
            }
        }
    }
    if let Some(namespace) = &k.namespace {
        for object in objects.iter_mut() {
            object["metadata"]["namespace"] = Value::String(namespace.clone());
        }
    }
    Ok(objects)
}
// ANCHOR_END: render
