//! Grader checks for week 29: containers and Kubernetes for ML.
//!
//! References: the Kubernetes API's quantity rules (binary and decimal suffixes) worked by hand;
//! the overlays' intent (their YAML) for the rendered values; hand-made Containerfiles and
//! manifests for the lint; the real service over loopback for the probes. The schema check
//! (kubernetes-validate, the real schemas) runs in CI by `scripts/check-k8s.sh`.

use grader::{Called, Failure, Tol, check, close, ensure, expect_err};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::future::IntoFuture;
use week29_containers_k8s::containerfile::{self, sources_before_dependencies};
use week29_containers_k8s::kustomize::{self, strategic_merge};
use week29_containers_k8s::lint::{self, selector_matches};
use week29_containers_k8s::quantity::parse_quantity;
use week29_containers_k8s::{files, service};

fn object<'a>(objects: &'a [Value], id: &str) -> Result<&'a Value, Failure> {
    objects
        .iter()
        .find(|o| kustomize::id(o) == id)
        .ok_or_else(|| Failure::new(id, "missing from the rendered set"))
}

fn at<'a>(o: &'a Value, pointer: &str) -> &'a Value {
    o.pointer(pointer).unwrap_or(&Value::Null)
}

check! {
    /// Quantities as the Kubernetes API defines them: milli-cores, binary (1024) and decimal
    /// (1000) suffixes, exponents; malformed and infinite ones refused.
    fn quantities_equal_hand_worked(exercise = "parse_quantity") {
        for (text, want) in [
            ("250m", 0.25), ("1", 1.0), ("1.5", 1.5), ("128Mi", 134_217_728.0), ("1Ki", 1024.0), ("1k", 1000.0),
            ("1Gi", 1_073_741_824.0), ("3G", 3e9), ("2e3", 2000.0), ("1E-2", 0.01), ("500u", 5e-4), ("0.5Ti", 549_755_813_888.0),
        ] {
            close(&format!("parse_quantity({text:?})"), want, parse_quantity(text).called("parse_quantity")?, Tol::rel(1e-15))?;
        }
        for bad in ["", "Mi", "12x", "1.2.3", "e3", "1 Mi", "1e999"] {
            expect_err(&format!("parse_quantity({bad:?})"), parse_quantity(bad))?;
        }
        Ok(())
    }
}

check! {
    /// A hand-worked strategic merge (nested keys merged, null deletes, named lists merged by
    /// name, other lists replaced), then the overlays: what each one's YAML asks for is what
    /// the rendering holds, and what it does not touch is the base's.
    fn overlays_render_as_their_patches_say(exercise = "strategic_merge") {
        let mut target = json!({"a": 1, "b": {"c": 2, "d": 3}, "list": [{"name": "x", "v": 1}, {"name": "y", "v": 2}], "plain": [1, 2]});
        strategic_merge(&mut target, &json!({"b": {"d": null, "e": 4}, "list": [{"name": "y", "v": 5}, {"name": "z", "v": 6}], "plain": [3], "f": "g"}));
        let want = json!({"a": 1, "b": {"c": 2, "e": 4}, "list": [{"name": "x", "v": 1}, {"name": "y", "v": 5}, {"name": "z", "v": 6}], "plain": [3], "f": "g"});
        ensure(target == want, "the hand-worked merge", format!("expected {want}, got {target}"))?;

        let overlays = files::lab_dir().join("deploy/k8s/overlays");
        let prod = kustomize::render(&overlays.join("prod")).called("render(prod)")?;
        let dev = kustomize::render(&overlays.join("dev")).called("render(dev)")?;
        for (env, objects) in [("prod", &prod), ("dev", &dev)] {
            ensure(objects.len() == 5, &format!("{env}: objects"), format!("expected the base's 5, got {}", objects.len()))?;
            let namespace = format!("scorer-{env}");
            ensure(objects.iter().all(|o| at(o, "/metadata/namespace") == namespace.as_str()), &format!("{env}: namespaces"), format!("every object in {namespace}"))?;
        }
        let d = object(&prod, "Deployment/scorer")?;
        let c = at(d, "/spec/template/spec/containers/0");
        for (pointer, want) in [
            ("/spec/replicas", json!(3)),
            ("/spec/template/metadata/labels/app.kubernetes.io~1environment", json!("prod")),
            ("/spec/selector/matchLabels", json!({"app.kubernetes.io/name": "scorer"})),
        ] {
            ensure(at(d, pointer) == &want, &format!("prod Deployment {pointer}"), format!("expected {want}, got {}", at(d, pointer)))?;
        }
        for (pointer, want) in [
            ("/image", json!("localhost/week29-scorer:0.1.0")),
            ("/resources", json!({"requests": {"cpu": "250m", "memory": "64Mi"}, "limits": {"cpu": "1", "memory": "128Mi"}})),
            ("/readinessProbe/httpGet/path", json!("/readyz")),
            ("/livenessProbe/httpGet/path", json!("/healthz")),
            ("/ports/0/containerPort", json!(8029)),
        ] {
            ensure(at(c, pointer) == &want, &format!("prod container {pointer}"), format!("expected {want}, got {}", at(c, pointer)))?;
        }
        let h = object(&prod, "HorizontalPodAutoscaler/scorer")?;
        ensure(at(h, "/spec/minReplicas") == 3 && at(h, "/spec/maxReplicas") == 12 && at(h, "/spec/metrics").as_array().map(Vec::len) == Some(2), "prod HPA", format!("expected 3–12 on 2 metrics, got {}", at(h, "/spec")))?;
        ensure(at(object(&prod, "PodDisruptionBudget/scorer")?, "/spec/minAvailable") == 2, "prod PDB minAvailable", "expected 2")?;
        let pdb = at(object(&dev, "PodDisruptionBudget/scorer")?, "/spec");
        ensure(pdb.get("minAvailable").is_none() && pdb["maxUnavailable"] == 1, "dev PDB", format!("expected maxUnavailable 1 and no minAvailable (deleted by null), got {pdb}"))?;
        let cm = at(object(&dev, "ConfigMap/scorer-config")?, "/data");
        ensure(cm["WARMUP_MS"] == "0" && cm["ADDR"] == "0.0.0.0:8029", "dev ConfigMap", format!("expected WARMUP_MS 0 with the base's ADDR kept, got {cm}"))?;
        let dc = at(object(&dev, "Deployment/scorer")?, "/spec/template/spec/containers/0");
        ensure(at(dc, "/image") == "localhost/week29-scorer:0.1.0-dev" && at(dc, "/resources/limits/memory") == "64Mi", "dev container", format!("expected the dev tag and the base's resources, got {} {}", at(dc, "/image"), at(dc, "/resources")))?;

        // A kustomization field this renderer does not implement is refused by name.
        let dir = std::env::temp_dir().join(format!("week29-check-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| Failure::new("a scratch folder", e.to_string()))?;
        std::fs::write(dir.join("kustomization.yaml"), "commonLabels:\n  a: b\n").map_err(|e| Failure::new("a kustomization", e.to_string()))?;
        let refused = kustomize::render(&dir).map(|_| ()).map_err(|e| format!("{e:#}"));
        let _ = std::fs::remove_dir_all(&dir);
        ensure(refused.as_ref().is_err_and(|e| e.contains("commonLabels")), "a kustomization with commonLabels", format!("expected an error naming the field, got {refused:?}"))
    }
}

check! {
    /// The committed YAML is what the Rust types and the overlays render (nothing edited by
    /// hand, nothing stale), and both environments are consistent: no finding.
    fn committed_manifests_are_rendered_and_consistent(exercise = "selector_matches") {
        let dir = files::lab_dir();
        let stale = files::stale(&dir).called("files::stale")?;
        ensure(stale.is_empty(), "the committed manifests", format!("out of date: {stale:?} (cargo run -p week29-containers-k8s -- render --write)"))?;
        for env in files::ENVIRONMENTS {
            let objects = files::environment(&dir, env).called("files::environment")?;
            let findings = lint::lint(&objects).called("lint")?;
            ensure(findings.is_empty(), &format!("lint({env})"), format!("expected no finding, got {findings:?}"))?;
        }
        Ok(())
    }
}

check! {
    /// Selectors by hand, then every planted break found at exactly its field(s) — and nothing
    /// else reported.
    fn planted_breaks_are_found_at_their_fields(exercise = "selector_matches") {
        let labels = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>();
        for (selector, pod, want) in [
            (labels(&[("a", "1")]), labels(&[("a", "1"), ("b", "2")]), true),
            (labels(&[("a", "1"), ("b", "2")]), labels(&[("a", "1")]), false),
            (labels(&[("a", "1")]), labels(&[("a", "2")]), false),
            (labels(&[]), labels(&[("a", "1")]), false),
        ] {
            ensure(selector_matches(&selector, &pod) == want, &format!("selector_matches({selector:?}, {pod:?})"), format!("expected {want}"))?;
        }
        let prod = files::environment(&files::lab_dir(), "prod").called("files::environment")?;
        let c = "spec.template.spec.containers[0]";
        let expected: Vec<(&str, Vec<String>)> = vec![
            ("the pods' name label changed", vec!["Deployment/scorer spec.selector".into(), "Service/scorer spec.selector".into(), "PodDisruptionBudget/scorer spec.selector".into()]),
            ("readiness probe on a misspelt port", vec![format!("Deployment/scorer {c}.readinessProbe.httpGet.port")]),
            ("no liveness probe", vec![format!("Deployment/scorer {c}.livenessProbe")]),
            ("memory limit below the request", vec![format!("Deployment/scorer {c}.resources.limits.memory")]),
            ("runAsNonRoot removed", vec![format!("Deployment/scorer {c}.securityContext.runAsNonRoot")]),
            ("image tagged latest", vec![format!("Deployment/scorer {c}.image")]),
            ("ConfigMap renamed", vec![format!("Deployment/scorer {c}.envFrom[0].configMapRef.name")]),
            ("Service to a port the pods lack", vec!["Service/scorer spec.ports[0].targetPort".into()]),
            ("HPA aimed at another Deployment", vec!["HorizontalPodAutoscaler/scorer spec.scaleTargetRef.name".into()]),
            ("PDB that keeps every replica", vec!["PodDisruptionBudget/scorer spec.minAvailable".into()]),
        ];
        let plants = lint::plants();
        ensure(plants.len() == expected.len(), "the plants", format!("expected {}, got {}", expected.len(), plants.len()))?;
        for (plant, (what, want)) in plants.iter().zip(&expected) {
            ensure(plant.what == *what, "the plants' order", format!("expected {what:?}, got {:?}", plant.what))?;
            let broken = lint::apply_plant(&prod, plant).called("apply_plant")?;
            let got: BTreeSet<String> = lint::lint(&broken).called("lint")?.iter().map(|f| format!("{} {}", f.object, f.field)).collect();
            let want: BTreeSet<String> = want.iter().cloned().collect();
            ensure(got == want, what, format!("expected findings at {want:?}, got {got:?}"))?;
        }
        // A memory limit below its request, compared as quantities (64Mi < 0.1Gi is right, as text it is not).
        let mut fine = prod.clone();
        fine.iter_mut().filter(|o| o["kind"] == "Deployment").for_each(|d| d["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"] = json!("0.1Gi"));
        let findings = lint::lint(&fine).called("lint")?;
        ensure(findings.is_empty(), "a 0.1Gi limit over a 64Mi request", format!("expected no finding, got {findings:?}"))
    }
}

check! {
    /// The Containerfiles: the naive one flagged for its three faults at their lines, the
    /// multi-stage and scratch ones clean; the dependency-layer rule on hand-made files;
    /// malformed files refused with their line.
    fn containerfiles_linted(exercise = "dependency_layer") {
        let deploy = files::lab_dir().join("deploy");
        for (file, want) in [
            ("Containerfile.naive", vec![("dependency-layer", 8), ("toolchain-in-runtime", 6), ("runs-as-root", 6)]),
            ("Containerfile.multistage", vec![]),
            ("Containerfile.scratch", vec![]),
        ] {
            let text = std::fs::read_to_string(deploy.join(file)).map_err(|e| Failure::new(file, e.to_string()))?;
            let stages = containerfile::parse(&text).called("containerfile::parse")?;
            let got: Vec<(&str, usize)> = containerfile::lint(&stages).iter().map(|f| (f.rule, f.line)).collect();
            ensure(got == want, file, format!("expected findings {want:?}, got {got:?}"))?;
        }
        let first = |text: &str| -> Result<Option<usize>, Failure> {
            let stages = containerfile::parse(text).called("containerfile::parse")?;
            Ok(sources_before_dependencies(&stages[0]))
        };
        for (text, want) in [
            ("FROM r AS b\nCOPY . .\nRUN cargo build --release\n", Some(2)),
            ("FROM r\nWORKDIR /s\nCOPY Cargo.toml Cargo.lock ./\nRUN cargo build\nCOPY src src\nRUN cargo build\n", None),
            ("FROM r\n# the sources\nCOPY [\"src\", \"/s/src\"]\nRUN cargo chef cook && \\\n  cargo build\n", Some(3)),
            ("FROM r\nCOPY --from=other . .\nRUN cargo build\n", None),
            ("FROM r\nCOPY ./src/main.rs src/\nRUN cargo build\n", Some(2)),
            ("FROM r\nCOPY . .\nRUN ls\n", None),
        ] {
            let got = first(text)?;
            ensure(got == want, &format!("sources_before_dependencies({text:?})"), format!("expected {want:?}, got {got:?}"))?;
        }
        for (text, line) in [("RUN x\nFROM r\n", "line 1"), ("FROM r\nFORM s\n", "line 2"), ("FROM r\nRUN a \\\n", "continued")] {
            let e = expect_err(&format!("parse({text:?})"), containerfile::parse(text))?;
            ensure(e.contains(line), &format!("parse({text:?})"), format!("the error should name {line:?}: {e}"))?;
        }
        Ok(())
    }
}

check! {
    /// The production Deployment's probes, port and ConfigMap (as the overlay renders them)
    /// against the real service on
    /// loopback: the startup and liveness paths answer 200 from the start, readiness 503 until
    /// the model is loaded and again once draining; the token from the mounted file is required;
    /// the ConfigMap's address uses the container port the probes and the Service name; bad
    /// settings are refused by name.
    fn probes_reach_the_real_service(exercise = "strategic_merge") {
        use k8s_openapi::api::apps::v1::Deployment;
        let prod = kustomize::render(&files::lab_dir().join("deploy/k8s/overlays/prod")).called("render(prod)")?;
        let d: Deployment = serde_json::from_value(object(&prod, "Deployment/scorer")?.clone()).map_err(|e| Failure::new("the Deployment", e.to_string()))?;
        let c = d.spec.template.spec.as_ref().and_then(|p| p.containers.first()).ok_or_else(|| Failure::new("the Deployment", "no container"))?;
        let port = c.ports.as_ref().and_then(|p| p.first()).ok_or_else(|| Failure::new("the container", "no port"))?;
        let data = at(object(&prod, "ConfigMap/scorer-config")?, "/data").clone();
        let addr = data["ADDR"].as_str().unwrap_or("");
        ensure(addr.ends_with(&format!(":{}", port.container_port)), "ConfigMap ADDR", format!("{addr:?} should listen on the containerPort {}", port.container_port))?;
        let path = |p: &Option<k8s_openapi::api::core::v1::Probe>| p.as_ref().and_then(|p| p.http_get.as_ref()).map(|h| (h.path.clone().unwrap_or_default(), h.port.clone()));
        let probes = [path(&c.startup_probe), path(&c.liveness_probe), path(&c.readiness_probe)];
        let [Some(startup), Some(liveness), Some(readiness)] = probes else {
            return Err(Failure::new("the probes", "expected httpGet startup, liveness and readiness probes"));
        };

        let e = service::Config::from_env(|k| (k == "WARMUP_MS").then(|| "soon".to_string()));
        ensure(e.as_ref().is_err_and(|e| e.contains("WARMUP_MS")), "WARMUP_MS=soon", format!("expected an error naming WARMUP_MS, got {e:?}"))?;
        let dir = std::env::temp_dir().join(format!("week29-probes-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| Failure::new("a scratch folder", e.to_string()))?;
        std::fs::write(dir.join("token"), "s3cret\n").map_err(|e| Failure::new("a token file", e.to_string()))?;
        let config = service::Config::from_env(|k| match k {
            "ADDR" => Some("127.0.0.1:0".to_string()),
            "WARMUP_MS" => Some("300".to_string()),
            "TOKEN_FILE" => Some(dir.join("token").display().to_string()),
            other => data.get(other).and_then(Value::as_str).map(str::to_string),
        }).map_err(|e| Failure::new("Config::from_env", e))?;
        let missing = service::Config { token_file: Some(dir.join("absent")), ..config.clone() };

        let rt = tokio::runtime::Runtime::new().map_err(|e| Failure::new("a runtime", e.to_string()))?;
        let outcome: anyhow::Result<Vec<(String, u16, u16)>> = rt.block_on(async {
            let no_token = service::load(&service::AppState::new(), &missing).await;
            anyhow::ensure!(no_token.as_ref().is_err_and(|e| e.contains("TOKEN_FILE")), "a missing token file: expected an error naming TOKEN_FILE, got {no_token:?}");
            let listener = tokio::net::TcpListener::bind(&config.addr).await?;
            let url = format!("http://{}", listener.local_addr()?);
            let state = service::AppState::new();
            tokio::spawn(axum::serve(listener, service::router(state.clone())).into_future());
            let client = reqwest::Client::new();
            let status = |path: String| { let client = client.clone(); let url = url.clone(); async move { anyhow::Ok(client.get(format!("{url}{path}")).send().await?.status().as_u16()) } };
            let before = [status(startup.0.clone()).await?, status(liveness.0.clone()).await?, status(readiness.0.clone()).await?];
            service::load(&state, &config).await.map_err(anyhow::Error::msg)?;
            let after = [status(startup.0.clone()).await?, status(liveness.0.clone()).await?, status(readiness.0.clone()).await?];
            let body = json!({"features": [1.0, 2.0, 3.0, 4.0]});
            let anonymous = client.post(format!("{url}/v1/predict")).json(&body).send().await?.status().as_u16();
            let answer: Value = client.post(format!("{url}/v1/predict")).bearer_auth("s3cret").json(&body).send().await?.json().await?;
            state.drain();
            let draining = [status(liveness.0.clone()).await?, status(readiness.0.clone()).await?];
            // σ(0.8 + (−0.8) + 3.6 + 2.0 − 0.3) = σ(5.3), the built-in model by hand.
            let p = answer["probability"].as_f64().unwrap_or(f64::NAN);
            anyhow::ensure!((p - 1.0 / (1.0 + (-5.3f64).exp())).abs() < 1e-12, "the prediction with the token: expected σ(5.3), got {answer}");
            Ok(vec![
                ("startup".into(), before[0], after[0]),
                ("liveness".into(), before[1], after[1]),
                ("readiness".into(), before[2], after[2]),
                ("predict without the token".into(), anonymous, anonymous),
                ("liveness, draining".into(), draining[0], draining[0]),
                ("readiness, draining".into(), draining[1], draining[1]),
            ])
        });
        let _ = std::fs::remove_dir_all(&dir);
        let got = outcome.map_err(|e| Failure::new("the service", format!("{e:#}")))?;
        let want: Vec<(&str, u16, u16)> = vec![("startup", 200, 200), ("liveness", 200, 200), ("readiness", 503, 200), ("predict without the token", 401, 401), ("liveness, draining", 200, 200), ("readiness, draining", 503, 503)];
        for ((what, before, after), (w, b, a)) in got.iter().zip(&want) {
            ensure(what == w && before == b && after == a, what, format!("expected {b} before the model loads and {a} after, got {before} and {after}"))?;
        }
        for (kind, (_, port)) in [("startup", &startup), ("liveness", &liveness), ("readiness", &readiness)] {
            let named = matches!(port, k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String(s) if Some(s) == port_name(c).as_ref());
            ensure(named, &format!("the {kind} probe's port"), format!("expected the container's port name, got {port:?}"))?;
        }
        Ok(())
    }
}

fn port_name(c: &k8s_openapi::api::core::v1::Container) -> Option<String> {
    c.ports
        .as_ref()
        .and_then(|p| p.first())
        .and_then(|p| p.name.clone())
}
