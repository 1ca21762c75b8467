//! The lab end to end: every piece of the production system exercised on loopback, each result
//! measured or checked on the spot.

use crate::Args;
use crate::commands::{open_service, state};
use crate::report::{Refusal, Report, Tamper};
use anyhow::{Context, Result};
use reqwest::Client;
use serde_json::{Value, json};
use std::path::Path;
use wb_lab::Lab;
use wb_llm::{LocalModel, WeightFormat};
use week24_llm_app::keys::Scope;
use week26_tracking_registry::sweep;
use week28_cicd_canary::pipeline::SPLIT_SEED;
use week32_production_system::audit::{self, Record, record_mac};
use week32_production_system::load::{self, LoadConfig};
use week32_production_system::retention::{self, DAY_MS, Policy, StoredRequest};
use week32_production_system::secrets::{self, Secret};
use week32_production_system::{advisories, deploy, now_ms, registry, telemetry};

/// The request id of the traced request: the W3C Trace Context example's trace id.
pub const TRACED_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
/// Its comment, with personal data the logs must not keep.
pub const TRACED_COMMENT: &str =
    "Second opinion for jane.doe@example.com, call back on +44 20 7946 0958";

/// The request id of the traced chat completion, and its prompt (with an e-mail address).
pub const CHAT_ID: &str = "chat-trace-1";
pub const CHAT_PROMPT: &str =
    "I am jane.doe@example.com. In one sentence, what does a model registry do?";

/// Writes a fresh audit key to `path` with mode `mode`.
fn write_key(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mut bytes = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    std::fs::write(path, format!("{}\n", week32_production_system::hex(&bytes)))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    Ok(())
}

/// A request to the service: its status and JSON body (or text).
async fn call(
    client: &Client,
    method: reqwest::Method,
    url: &str,
    key: Option<&str>,
    body: Option<Vec<u8>>,
) -> Result<(u16, Value)> {
    let mut rb = client.request(method, url);
    if let Some(k) = key {
        rb = rb.bearer_auth(k);
    }
    if let Some(b) = body {
        rb = rb.header("content-type", "application/json").body(b);
    }
    let r = rb.send().await?;
    let status = r.status().as_u16();
    let text = r.text().await?;
    Ok((
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    ))
}

fn message(v: &Value) -> String {
    v["error"]["message"]
        .as_str()
        .map_or_else(|| v.to_string(), str::to_string)
}

pub fn run(cli: &Args, lab: &mut Lab) -> Result<Report> {
    let dir = lab.plots_dir().join("state");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let files = state(&dir);
    let telemetry = telemetry::install();
    let log_path = lab.plots_dir().join("service.log");
    telemetry.write_logs_to(Some(Box::new(std::fs::File::create(&log_path)?)));

    // 1. Secrets: from a file only the owner reads; an open one is refused.
    let key_path = dir.join("audit-key");
    let mut refusals = Vec::new();
    write_key(&key_path, 0o644)?;
    refusals.push(Refusal::err(
        "the audit key in a file every user can read (0644)",
        secrets::from_file("WB32_AUDIT_KEY", &key_path),
    ));
    let short = dir.join("short-key");
    std::fs::write(&short, "hunter2")?;
    std::fs::set_permissions(&short, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    refusals.push(Refusal::err(
        "a 7-byte audit key",
        secrets::from_file("WB32_AUDIT_KEY", &short),
    ));
    std::fs::set_permissions(
        &key_path,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )?;
    let key: Secret = secrets::from_file("WB32_AUDIT_KEY", &key_path)?;
    let key_debug = format!("{key:?}");

    // 2. The registry and the service.
    let service = lab.timed("start", || open_service(&dir, key.clone()))?;
    let versions = service.with_registry(|t| {
        let prev = t.versions(week28_cicd_canary::pipeline::MODEL)?;
        anyhow::Ok(prev.iter().map(|v| v.version).collect::<Vec<_>>())
    })?;
    let card = service.with_registry(|t| registry::model_card(t))?;
    let llm = lab.timed("load SmolLM2", || {
        LocalModel::smollm2(WeightFormat::Quantized, &mut |m| eprintln!("{m}"))
    })?;
    service.attach_chat(Box::new(llm), 8)?;
    let alice = service.create_key("alice", &[Scope::Chat])?;
    let ops = service.create_key("ops", &[Scope::Admin])?;
    let rows: Vec<Vec<f64>> = sweep::load(SPLIT_SEED)?
        .valid_x
        .rows()
        .into_iter()
        .map(|r| r.to_vec())
        .collect();

    let rt = tokio::runtime::Runtime::new()?;
    let out = rt.block_on(async {
        let base = week32_production_system::service::start(&service, "127.0.0.1:0").await?;
        let client = Client::new();
        let predict = format!("{base}/v1/predict");

        // One request first, untraced in the report: the first request after a start pays for
        // cold caches (SQLite's pages, the key lookup's statement), not what a trace should show.
        let warm = serde_json::to_vec(&json!({"features": rows[2]}))?;
        call(&client, reqwest::Method::POST, &predict, Some(&alice.key), Some(warm)).await?;

        // 3. One request, traced.
        let body = json!({"features": rows[0], "comment": TRACED_COMMENT});
        let r = client
            .post(&predict)
            .bearer_auth(&alice.key)
            .header("x-request-id", TRACED_ID)
            .json(&body)
            .send()
            .await?;
        let traced_status = r.status().as_u16();
        let echoed = r
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let traced: Value = r.json().await?;
        // The server span closes after the answer is written: wait for it.
        let mut spans = Vec::new();
        for _ in 0..200 {
            spans = telemetry.trace(TRACED_ID);
            if spans.iter().any(|s| s.name == "POST /v1/predict") {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        // The key's id is random: named by its owner in the report.
        let trace = telemetry::render_trace(&spans).replace(&alice.id, "<alice's key id>");
        let logs: Vec<Value> = telemetry
            .logs_of(TRACED_ID)
            .into_iter()
            .map(|mut l| {
                if let Some(o) = l.as_object_mut() {
                    o.remove("timestamp_ms");
                    o.remove("span_id");
                    o.remove("target");
                }
                if let Some(f) = l["fields"].as_object_mut() {
                    f.remove("duration_ms");
                }
                l
            })
            .collect();

        // The same for a chat completion: the language model's span under the server's.
        let r = client
            .post(format!("{base}/v1/chat/completions"))
            .bearer_auth(&alice.key)
            .header("x-request-id", CHAT_ID)
            .json(&json!({"messages": [{"role": "user", "content": CHAT_PROMPT}], "max_tokens": 40, "temperature": 0}))
            .send()
            .await?;
        let chat_status = r.status().as_u16();
        let chat: Value = r.json().await?;
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let chat_trace = telemetry::render_trace(&telemetry.trace(CHAT_ID)).replace(&alice.id, "<alice's key id>");
        let chat_answer = chat["choices"][0]["message"]["content"].as_str().unwrap_or("").to_string();

        // 4. Bad requests.
        let good = serde_json::to_vec(&json!({"features": rows[1]}))?;
        let mut bad = Vec::new();
        let post = reqwest::Method::POST;
        let cases: Vec<(&str, &str, Option<&str>, Vec<u8>)> = vec![
            ("no API key", "/v1/predict", None, good.clone()),
            ("a key that is not one", "/v1/predict", Some("sk-wb-0123-4567"), good.clone()),
            ("a chat key asking for a rollback", "/admin/rollback", Some(alice.key.as_str()),
                serde_json::to_vec(&json!({"reason": "because"}))?),
            ("a 20 KiB body", "/v1/predict", Some(alice.key.as_str()), vec![b' '; 20 * 1024]),
            ("a body that is not JSON", "/v1/predict", Some(alice.key.as_str()), b"features=1,2,3".to_vec()),
            ("29 features", "/v1/predict", Some(alice.key.as_str()),
                serde_json::to_vec(&json!({"features": &rows[0][..29]}))?),
            ("a feature that is a string", "/v1/predict", Some(alice.key.as_str()),
                serde_json::to_vec(&json!({"features": rows[0].iter().enumerate().map(|(i, x)| if i == 3 { json!("12.5") } else { json!(x) }).collect::<Vec<_>>()}))?),
            ("a 5,000-character comment", "/v1/predict", Some(alice.key.as_str()),
                serde_json::to_vec(&json!({"features": rows[0], "comment": "x".repeat(5_000)}))?),
            ("a rollback without a reason", "/admin/rollback", Some(ops.key.as_str()), b"{}".to_vec()),
        ];
        for (what, path, k, b) in cases {
            let (status, v) = call(&client, post.clone(), &format!("{base}{path}"), k, Some(b)).await?;
            bad.push(Refusal {
                what: what.to_string(),
                status: Some(status),
                message: message(&v),
            });
        }
        let (after_status, _) = call(&client, post.clone(), &predict, Some(&alice.key), Some(good.clone())).await?;

        // 5. Load: steady, then with a rollback in the middle.
        let steady = load::run(&base, &alice.key, &ops.key, &rows, LoadConfig {
            concurrency: cli.concurrency,
            requests: cli.requests,
            rollback_after: None,
        })
        .await?;
        let rolled = load::run(&base, &alice.key, &ops.key, &rows, LoadConfig {
            concurrency: cli.concurrency,
            requests: cli.requests,
            rollback_after: Some(cli.requests / 4),
        })
        .await?;
        let (_, metrics) = call(&client, reqwest::Method::GET, &format!("{base}/metrics"), None, None).await?;
        let (_, audit_api) = call(&client, reqwest::Method::GET, &format!("{base}/admin/audit"), Some(&ops.key), None).await?;
        anyhow::Ok((traced_status, echoed, traced, trace, logs, bad, after_status, steady, rolled, metrics, audit_api, chat_status, chat_trace, chat_answer))
    })?;
    let (
        traced_status,
        echoed,
        traced,
        trace,
        logs,
        bad_requests,
        after_status,
        steady,
        rolled,
        metrics,
        audit_api,
        chat_status,
        chat_trace,
        chat_answer,
    ) = out;
    let metrics = metrics.as_str().unwrap_or_default().to_string();
    let predict_200 = service.metrics().count("POST", "/v1/predict", 200);
    let metric_lines: Vec<String> = metrics
        .lines()
        .filter(|l| {
            l.contains("http_route=\"/v1/predict\"")
                && l.contains("status_code=\"200\"")
                && (l.contains("le=\"+Inf\"") || l.contains("_count"))
                || l.starts_with("model_version_served")
        })
        .map(str::to_string)
        .collect();

    // 6. Retention: rows of known ages around each kind's limit, some under legal hold.
    let now = now_ms() as i64;
    let aged: Vec<(&str, &str, f64, bool)> = vec![
        ("predict", "bob", 1.0, false),
        ("predict", "bob", 29.0, false),
        ("predict", "bob", 30.0, false),
        ("predict", "bob", 31.0, false),
        ("predict", "bob", 90.0, false),
        ("predict", "case-17", 90.0, true),
        ("admin", "ops", 364.0, false),
        ("admin", "ops", 366.0, false),
        ("admin", "ops", 500.0, false),
        ("admin", "case-17", 500.0, true),
        ("export", "bob", 400.0, false),
    ];
    let stored_before = service.with_store(|c| -> Result<i64> {
        for (i, (kind, user, days, hold)) in aged.iter().enumerate() {
            retention::insert(
                c,
                &StoredRequest {
                    request_id: format!("aged-{i}"),
                    user_id: user.to_string(),
                    kind: kind.to_string(),
                    at_ms: now - (days * DAY_MS as f64) as i64,
                    legal_hold: *hold,
                    status: 200,
                    version: None,
                    comment: None,
                },
            )?;
        }
        Ok(c.query_row("SELECT COUNT(*) FROM requests", [], |r| r.get(0))?)
    })?;
    let retention = service.retention(&Policy::standard(), now)?;
    let deleted_ids: Vec<String> = service.with_store(|c| -> Result<Vec<String>> {
        let mut st = c.prepare(
            "SELECT request_id FROM requests WHERE request_id LIKE 'aged-%' ORDER BY id",
        )?;
        let kept = st
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok((0..aged.len())
            .map(|i| format!("aged-{i}"))
            .filter(|id| !kept.contains(id))
            .collect())
    })?;
    let stored_after: i64 =
        service.with_store(|c| c.query_row("SELECT COUNT(*) FROM requests", [], |r| r.get(0)))?;
    let leaked = telemetry
        .logs()
        .iter()
        .filter(|l| {
            let t = l.to_string();
            t.contains("jane.doe@example.com")
                || t.contains("7946 0958")
                || t.contains(&alice.key)
                || t.contains(&ops.key)
        })
        .count();
    let chat_stored: Option<String> = service.with_store(|c| {
        c.query_row(
            "SELECT comment FROM requests WHERE request_id = ?1",
            [CHAT_ID],
            |r| r.get(0),
        )
    })?;
    let stored_comment: Option<String> = service.with_store(|c| {
        c.query_row(
            "SELECT comment FROM requests WHERE request_id = ?1",
            [TRACED_ID],
            |r| r.get(0),
        )
    })?;

    // 7. The audit log: verified as written, then each kind of tampering on a copy.
    let verdict = service.audit().verify()?;
    let records = audit::records(&files.audit)?;
    let text = std::fs::read_to_string(&files.audit)?;
    let head = audit::read_head(&files.audit)?;
    let tampered = tampering(&key, &text, head.as_ref(), &records)?;
    let actions: Vec<String> = records.iter().map(|r| r.action.clone()).collect();

    // 8. The dependency audit and the manifests.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let db = advisories::load_db(&Path::new(env!("CARGO_MANIFEST_DIR")).join("advisory-db"))?;
    let locked = advisories::parse_lock(&std::fs::read_to_string(root.join("Cargo.lock"))?)?;
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dependency_audit = crate::commands::audit_lock(
        &root.join("Cargo.lock"),
        &manifest.join("advisory-db"),
        &manifest.join("advisory-ignore.toml"),
    )?;
    let objects = deploy::objects()?;
    let lint = week29_containers_k8s::lint::lint(&objects)?;
    let yaml = week29_containers_k8s::kustomize::to_yaml(&objects)?;
    let committed = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/production-system.yaml"),
    )
    .unwrap_or_default();
    telemetry.write_logs_to(None);
    let plots = crate::plots::rollback(lab.plots_dir(), &rolled)?;
    lab.saved(plots);
    lab.saved([log_path]);

    Ok(Report {
        key_debug,
        versions,
        serving: versions_serving(&traced),
        traced_status,
        echoed_id: echoed,
        traced_p: traced["p_malignant"].as_f64().unwrap_or(f64::NAN),
        trace,
        logs,
        leaked,
        stored_comment,
        chat_status,
        chat_trace,
        chat_answer,
        chat_stored,
        bad_requests,
        after_status,
        refusals,
        steady,
        rolled,
        predict_200,
        metric_lines,
        stored_before,
        retention,
        deleted_ids,
        stored_after,
        audit_records: verdict.records,
        audit_problems: verdict.problems.len(),
        audit_api_intact: audit_api["intact"].as_bool().unwrap_or(false),
        actions,
        tampered,
        card,
        advisories: db.len(),
        locked: locked.len(),
        dependency_audit,
        lint: lint.iter().map(ToString::to_string).collect(),
        deploy_matches: committed == yaml,
    })
}

fn versions_serving(v: &Value) -> i64 {
    v["version"].as_i64().unwrap_or(-1)
}

/// Each kind of tampering on a copy of the log `text`, and the first problem `verify` reports.
fn tampering(
    key: &Secret,
    text: &str,
    head: Option<&audit::Head>,
    records: &[Record],
) -> Result<Vec<Tamper>> {
    let lines: Vec<&str> = text.lines().collect();
    let join = |ls: &[String]| ls.iter().map(|l| format!("{l}\n")).collect::<String>();
    let owned: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    let mut out = Vec::new();
    let mut check = |what: &str, changed: String| {
        let v = audit::verify(key, &changed, head);
        out.push(Tamper {
            what: what.to_string(),
            first: v
                .problems
                .first()
                .map_or("nothing found".to_string(), ToString::to_string),
            problems: v.problems.len(),
        });
    };
    // A record's detail changed (the rollback's reason rewritten).
    let rb = records
        .iter()
        .position(|r| r.action == "model.rollback")
        .unwrap_or(1);
    let mut ls = owned.clone();
    let mut r = records[rb].clone();
    r.detail["reason"] = json!("scheduled maintenance");
    ls[rb] = serde_json::to_string(&r)?;
    check("the rollback's reason rewritten", join(&ls));
    // The same record rewritten with its MAC recomputed under a guessed key.
    let guess = Secret::new("guess", vec![7u8; 32])?;
    r.mac = record_mac(
        &guess, r.seq, r.at_ms, &r.actor, &r.action, &r.detail, &r.prev,
    );
    ls[rb] = serde_json::to_string(&r)?;
    check("…and its MAC recomputed under a guessed key", join(&ls));
    // A record removed.
    let mut ls = owned.clone();
    ls.remove(1);
    check("the second record removed", join(&ls));
    // Two records swapped.
    let mut ls = owned.clone();
    ls.swap(1, 2);
    check("records 2 and 3 swapped", join(&ls));
    // A forged record appended.
    let last = records.last().context("the log is empty")?;
    let forged = Record {
        seq: last.seq + 1,
        at_ms: last.at_ms + 1,
        actor: "ops".into(),
        action: "model.promote".into(),
        detail: json!({"to": 1}),
        prev: last.mac.clone(),
        mac: record_mac(
            &guess,
            last.seq + 1,
            last.at_ms + 1,
            "ops",
            "model.promote",
            &json!({"to": 1}),
            &last.mac,
        ),
    };
    let mut ls = owned.clone();
    ls.push(serde_json::to_string(&forged)?);
    check("a forged record appended", join(&ls));
    // The last record cut off.
    let mut ls = owned.clone();
    ls.pop();
    check("the last record cut off", join(&ls));
    // Nothing changed: the control.
    check("nothing changed (the control)", text.to_string());
    Ok(out)
}
