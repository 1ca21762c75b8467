//! Grader checks for week 32: the production AI system.
//!
//! References: HMAC-SHA256 written out from its definition (RFC 2104) over sha2 and checked on
//! RFC 4231's test case 2; audit logs tampered with at known places; retention fixtures whose
//! rows are placed by hand on each side of each limit; PII strings redacted by hand; RustSec's
//! own version ranges read by hand; the lab's binary run with its secret in the environment;
//! the service on loopback, with a load test and a rollback in the middle of it.

use grader::{Called, Failure, check, ensure, expect_err};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;
use week24_llm_app::keys::Scope;
use week26_tracking_registry::registry::PRODUCTION;
use week28_cicd_canary::pipeline::MODEL;
use week32_production_system::audit::{self, AuditLog, Fault, GENESIS, record_mac};
use week32_production_system::load::{self, LoadConfig, SLO_P99_MS};
use week32_production_system::retention::{self, DAY_MS, Policy, StoredRequest};
use week32_production_system::secrets::{self, Secret};
use week32_production_system::service::{self, Service};
use week32_production_system::{advisories, deploy, registry, telemetry};

const BIN: &str = env!("CARGO_BIN_EXE_week32-production-system");

/// A fresh folder for one check.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wb-week32-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::create_dir_all(&dir);
    dir
}

fn key(byte: u8) -> Secret {
    Secret::new("key", vec![byte; 32]).expect("32 bytes make a key")
}

/// HMAC-SHA256 from its definition: H((K ⊕ opad) ‖ H((K ⊕ ipad) ‖ m)), K padded to 64 bytes.
fn hmac_by_hand(k: &[u8], m: &[u8]) -> String {
    let mut block = [0u8; 64];
    if k.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(k));
    } else {
        block[..k.len()].copy_from_slice(k);
    }
    let ipad: Vec<u8> = block.iter().map(|b| b ^ 0x36).collect();
    let opad: Vec<u8> = block.iter().map(|b| b ^ 0x5c).collect();
    let inner = Sha256::digest([ipad.as_slice(), m].concat());
    let outer = Sha256::digest([opad.as_slice(), inner.as_slice()].concat());
    outer.iter().map(|b| format!("{b:02x}")).collect()
}

/// A log of `n` records written by `AuditLog` in `dir`; returns its path.
fn log_of(dir: &Path, n: usize, k: &Secret) -> Result<PathBuf, Failure> {
    let path = dir.join("audit.jsonl");
    let (log, _) = AuditLog::open(&path, k.clone()).called("AuditLog::open")?;
    for i in 0..n {
        log.append("ops", "test.action", json!({"i": i}))
            .called("append")?;
    }
    Ok(path)
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

fn joined(ls: &[String]) -> String {
    ls.iter().map(|l| format!("{l}\n")).collect()
}

check! {
    /// The MAC is HMAC-SHA256 of `[seq, at_ms, actor, action, detail, prev]` as JSON: the same
    /// hex as HMAC written out from its definition (itself checked on RFC 4231's case 2).
    fn record_mac_is_hmac_sha256_of_the_fields(exercise = "mac") {
        let rfc = hmac_by_hand(b"Jefe", b"what do ya want for nothing?");
        ensure(rfc == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            "the reference HMAC on RFC 4231 case 2", rfc.clone())?;
        let k = key(0x0b);
        let detail = json!({"to": 1, "reason": "p99 too high"});
        let got = record_mac(&k, 7, 1_700_000_000_000, "ops", "model.rollback", &detail, GENESIS);
        let body = json!([7, 1_700_000_000_000u64, "ops", "model.rollback", detail, GENESIS]).to_string();
        let want = hmac_by_hand(k.expose(), body.as_bytes());
        ensure(got == want, "record_mac", format!("expected {want}, got {got}"))?;
        let other = record_mac(&key(0x0c), 7, 1_700_000_000_000, "ops", "model.rollback", &detail, GENESIS);
        ensure(other != got, "record_mac under another key", "must differ")
    }
}

check! {
    /// Tampering with any record of a 6-record log is found at that record: a changed detail
    /// (MAC), a removed record (sequence), two records swapped, a record forged with a guessed
    /// key, the tail cut off (the head); the untouched log verifies.
    fn audit_tampering_is_detected_and_located(exercise = "verify") {
        let dir = scratch("tamper");
        let k = key(1);
        let path = log_of(&dir, 6, &k)?;
        let head = audit::read_head(&path).called("read_head")?;
        ensure(head.as_ref().map(|h| h.seq) == Some(6), "the head after 6 appends", format!("{head:?}"))?;
        let original = lines(&path);
        let clean = audit::verify(&k, &joined(&original), head.as_ref());
        ensure(clean.intact() && clean.records == 6, "the untouched log", format!("{clean:?}"))?;
        for i in 0..6 {
            let mut ls = original.clone();
            let mut r: Value = serde_json::from_str(&ls[i]).called("a record")?;
            r["detail"]["i"] = json!(99);
            ls[i] = r.to_string();
            let v = audit::verify(&k, &joined(&ls), head.as_ref());
            let first = v.problems.first();
            ensure(first.is_some_and(|p| p.line == i + 1 && p.fault == Fault::BadMac),
                &format!("record {} with its detail changed", i + 1),
                format!("expected a bad MAC at line {}, got {:?}", i + 1, v.problems))?;
        }
        for i in 0..5 {
            let mut ls = original.clone();
            ls.remove(i);
            let v = audit::verify(&k, &joined(&ls), head.as_ref());
            let first = v.problems.first();
            ensure(first.is_some_and(|p| p.line == i + 1 && p.fault == Fault::OutOfSequence { expected: i as u64 + 1, found: i as u64 + 2 }),
                &format!("record {} removed", i + 1),
                format!("expected 'out of sequence' at line {}, got {:?}", i + 1, v.problems))?;
        }
        let mut ls = original.clone();
        ls.pop();
        let v = audit::verify(&k, &joined(&ls), head.as_ref());
        ensure(v.problems == vec![audit::Problem { line: 6, seq: None, fault: Fault::Truncated { head_seq: 6, last_seq: 5 } }],
            "the last record cut off", format!("expected one truncation at line 6, got {:?}", v.problems))?;
        let mut ls = original.clone();
        ls.swap(2, 3);
        let v = audit::verify(&k, &joined(&ls), head.as_ref());
        ensure(v.problems.first().is_some_and(|p| p.line == 3), "records 3 and 4 swapped",
            format!("expected the first fault at line 3, got {:?}", v.problems))?;
        // A forged record: right shape, right link, MAC under a guessed key.
        let last: audit::Record = serde_json::from_str(&original[5]).called("a record")?;
        let guess = key(2);
        let forged = audit::Record {
            seq: 7, at_ms: last.at_ms, actor: "ops".into(), action: "model.promote".into(),
            detail: json!({"to": 1}), prev: last.mac.clone(),
            mac: record_mac(&guess, 7, last.at_ms, "ops", "model.promote", &json!({"to": 1}), &last.mac),
        };
        let mut ls = original.clone();
        ls.push(serde_json::to_string(&forged).called("to_string")?);
        let v = audit::verify(&k, &joined(&ls), None);
        ensure(v.problems.len() == 1 && v.problems[0].line == 7 && v.problems[0].fault == Fault::BadMac,
            "a forged 7th record", format!("expected one bad MAC at line 7, got {:?}", v.problems))?;
        let v = audit::verify(&k, &joined(&ls), head.as_ref());
        ensure(v.problems.iter().any(|p| matches!(p.fault, Fault::HeadMismatch { head_seq: 6, last_seq: 7 })),
            "a forged 7th record against the head", format!("{:?}", v.problems))?;
        let v = audit::verify(&k, "not json\n", None);
        ensure(matches!(v.problems.first().map(|p| &p.fault), Some(Fault::Unreadable { .. })), "a line that is not a record", format!("{:?}", v.problems))
    }
}

check! {
    /// A torn last line (an append a crash interrupted) is cut off when the log is opened and the
    /// records before it kept; a log that does not verify is not opened, and the error names the
    /// line; appends continue the chain across reopening.
    fn a_torn_tail_is_cut_and_a_damaged_log_refused(exercise = "verify") {
        let dir = scratch("torn");
        let k = key(3);
        let path = log_of(&dir, 3, &k)?;
        let mut bytes = std::fs::read(&path).called("read")?;
        bytes.extend_from_slice(b"{\"seq\":4,\"at_ms\":1,\"act");
        std::fs::write(&path, &bytes).called("write")?;
        let (log, opened) = AuditLog::open(&path, k.clone()).called("AuditLog::open")?;
        ensure(opened.records == 3 && opened.torn_bytes == 23, "opening a torn log",
            format!("expected 3 records and 23 torn bytes, got {opened:?}"))?;
        log.append("ops", "after.reopen", json!({})).called("append")?;
        drop(log);
        let v = audit::verify_file(&path, &k).called("verify_file")?;
        ensure(v.intact() && v.records == 4, "the log after reopening and one append", format!("{v:?}"))?;
        let mut ls = lines(&path);
        ls[1] = ls[1].replace("test.action", "test.acti0n");
        std::fs::write(&path, joined(&ls)).called("write")?;
        let e = expect_err("AuditLog::open on a changed log", AuditLog::open(&path, k.clone()).map(|_| ()))?;
        ensure(e.contains("line 2"), "the refusal", format!("must name line 2: {e}"))?;
        let e = expect_err("AuditLog::open under another key", AuditLog::open(&path, key(4)).map(|_| ()))?;
        ensure(e.contains("line 1"), "the refusal under another key", format!("must name line 1: {e}"))
    }
}

check! {
    /// The retention job deletes exactly the rows past their kind's time to live and not on
    /// legal hold (a row exactly as old as the limit stays), keeps kinds the policy does not
    /// name, and leaves a record of the run in the audit log.
    fn retention_deletes_what_it_must_and_nothing_else(exercise = "due") {
        let dir = scratch("retention");
        let mut conn = retention::open(&dir.join("store.sqlite")).called("retention::open")?;
        let now = 1_900_000_000_000i64;
        // (kind, user, age in days, hold, must go)
        let rows = [
            ("predict", "a", 0.0, false, false),
            ("predict", "a", 29.999, false, false),
            ("predict", "a", 30.0, false, false),
            ("predict", "a", 30.001, false, true),
            ("predict", "a", 200.0, false, true),
            ("predict", "held", 200.0, true, false),
            ("admin", "a", 31.0, false, false),
            ("admin", "a", 365.0, false, false),
            ("admin", "a", 365.5, false, true),
            ("admin", "held", 900.0, true, false),
            ("export", "a", 5000.0, false, false),
        ];
        for (i, (kind, user, days, hold, _)) in rows.iter().enumerate() {
            retention::insert(&conn, &StoredRequest {
                request_id: format!("r{i}"), user_id: user.to_string(), kind: kind.to_string(),
                at_ms: now - (days * DAY_MS as f64).round() as i64, legal_hold: *hold, status: 200,
                version: Some(1), comment: None,
            }).called("insert")?;
        }
        let want: Vec<i64> = rows.iter().enumerate().filter(|r| r.1.4).map(|(i, _)| i as i64 + 1).collect();
        let due = retention::due(&conn, &Policy::standard(), now).called("due")?;
        ensure(due == want, "due", format!("expected row ids {want:?}, got {due:?}"))?;
        let (log, _) = AuditLog::open(&dir.join("audit.jsonl"), key(5)).called("AuditLog::open")?;
        let report = retention::run(&mut conn, &Policy::standard(), now, &log).called("retention::run")?;
        let left: Vec<String> = conn.prepare("SELECT request_id FROM requests ORDER BY id").and_then(|mut s| {
            s.query_map([], |r| r.get::<_, String>(0))?.collect::<rusqlite::Result<Vec<_>>>()
        }).called("reading the rows left")?;
        let want_left: Vec<String> = rows.iter().enumerate().filter(|r| !r.1.4).map(|(i, _)| format!("r{i}")).collect();
        ensure(left == want_left, "the rows left", format!("expected {want_left:?}, got {left:?}"))?;
        ensure(report.deleted.get("predict") == Some(&2) && report.deleted.get("admin") == Some(&1) && report.held == 2
            && report.unknown_kinds.get("export") == Some(&1),
            "the report", format!("expected predict 2, admin 1, held 2, export unknown: {report:?}"))?;
        let recs = audit::records(&dir.join("audit.jsonl")).called("records")?;
        let ids = Sha256::digest(b"4,5,9").iter().map(|b| format!("{b:02x}")).collect::<String>();
        ensure(recs.len() == 1 && recs[0].action == "retention.run" && recs[0].detail["ids_sha256"] == ids.as_str(),
            "the audit record", format!("expected one retention.run with the SHA-256 of \"4,5,9\", got {recs:?}"))?;
        let again = retention::run(&mut conn, &Policy::standard(), now, &log).called("retention::run again")?;
        ensure(again.ids.is_empty(), "a second run at the same instant", format!("deletes nothing, deleted {:?}", again.ids))?;
        let mut bad = Policy::standard();
        bad.keep_ms.insert("predict".into(), 0);
        expect_err("due with a zero time to live", retention::due(&conn, &bad, now))?;
        Ok(())
    }
}

check! {
    /// Personal data is replaced by placeholders before anything is logged: e-mail, phone,
    /// a card number with a valid Luhn digit, an IBAN; an order number stays.
    fn scrub_redacts_personal_data(exercise = "scrub") {
        let cases = [
            ("write to jane.doe@example.com today", "write to [EMAIL] today"),
            ("call +44 20 7946 0958 after 5", "call [PHONE] after 5"),
            ("card 4111 1111 1111 1111, order 1234", "card [CARD], order 1234"),
            ("IBAN GB82 WEST 1234 5698 7654 32 please", "IBAN [IBAN] please"),
            ("nothing personal here", "nothing personal here"),
        ];
        for (text, want) in cases {
            let got = telemetry::scrub(text);
            ensure(got == want, &format!("scrub({text:?})"), format!("expected {want:?}, got {got:?}"))?;
        }
        Ok(())
    }
}

/// A service on loopback with a fresh state, and its two keys (chat, admin).
struct Stack {
    rt: tokio::runtime::Runtime,
    service: Service,
    base: String,
    chat: String,
    admin: String,
    dir: PathBuf,
}

fn stack(name: &str) -> Result<Stack, Failure> {
    let dir = scratch(name);
    let (tracker, _) = registry::setup(&dir.join("registry")).called("registry::setup")?;
    let (log, _) = AuditLog::open(&dir.join("audit.jsonl"), key(9)).called("AuditLog::open")?;
    let store = retention::open(&dir.join("requests.sqlite")).called("retention::open")?;
    let service = Service::new(tracker, log, store).called("Service::new")?;
    let chat = service
        .create_key("alice", &[Scope::Chat])
        .called("create_key")?
        .key;
    let admin = service
        .create_key("ops", &[Scope::Admin])
        .called("create_key")?
        .key;
    let rt = tokio::runtime::Runtime::new().called("a tokio runtime")?;
    let base = rt
        .block_on(service::start(&service, "127.0.0.1:0"))
        .called("service::start")?;
    Ok(Stack {
        rt,
        service,
        base,
        chat,
        admin,
        dir,
    })
}

fn rows() -> Result<Vec<Vec<f64>>, Failure> {
    Ok(
        week26_tracking_registry::sweep::load(week28_cicd_canary::pipeline::SPLIT_SEED)
            .called("sweep::load")?
            .valid_x
            .rows()
            .into_iter()
            .map(|r| r.to_vec())
            .collect(),
    )
}

/// POSTs `body` to `path` with `key`; the status and the error message (if any).
fn post(s: &Stack, path: &str, key: Option<&str>, body: Vec<u8>) -> Result<(u16, String), Failure> {
    s.rt.block_on(async {
        let mut rb = reqwest::Client::new()
            .post(format!("{}{path}", s.base))
            .body(body)
            .header("content-type", "application/json");
        if let Some(k) = key {
            rb = rb.bearer_auth(k);
        }
        let r = rb.send().await?;
        let status = r.status().as_u16();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        Ok::<_, reqwest::Error>((
            status,
            v["error"]["message"].as_str().unwrap_or("").to_string(),
        ))
    })
    .called("a request")
}

check! {
    /// Bad requests get the right 4xx and a message naming what is wrong: no key, a malformed
    /// key, an unknown key, the wrong scope, a body over 16 KiB, not JSON, 29 features, a string
    /// feature, a long comment, a rollback without a reason; the service answers 200 after them.
    fn bad_requests_get_a_4xx_that_says_why(exercise = "limits", timeout_s = 240) {
        let s = stack("limits")?;
        let rows = rows()?;
        let good = serde_json::to_vec(&json!({"features": rows[0]})).called("json")?;
        let unknown = week24_llm_app::keys::generate().key;
        let mut string_feature = json!({"features": rows[0]});
        string_feature["features"][3] = json!("12.5");
        // (what, route, key, body, the status expected, what its message must say)
        type Case<'a> = (&'a str, &'a str, Option<&'a str>, Vec<u8>, u16, &'a str);
        let cases: Vec<Case> = vec![
            ("no key", "/v1/predict", None, good.clone(), 401, "Bearer"),
            ("a malformed key", "/v1/predict", Some("sk-wb-12-34"), good.clone(), 401, "not an API key"),
            ("an unknown key", "/v1/predict", Some(unknown.as_str()), good.clone(), 401, "unknown"),
            ("a chat key on /admin/rollback", "/admin/rollback", Some(s.chat.as_str()), b"{\"reason\":\"x\"}".to_vec(), 403, "admin"),
            ("an admin key on /v1/predict", "/v1/predict", Some(s.admin.as_str()), good.clone(), 403, "chat"),
            ("a 17 KiB body", "/v1/predict", Some(s.chat.as_str()), vec![b' '; 17 * 1024], 413, "16384"),
            ("not JSON", "/v1/predict", Some(s.chat.as_str()), b"features=1".to_vec(), 400, "not JSON"),
            ("29 features", "/v1/predict", Some(s.chat.as_str()), serde_json::to_vec(&json!({"features": &rows[0][..29]})).called("json")?, 422, "got 29"),
            ("a string feature", "/v1/predict", Some(s.chat.as_str()), serde_json::to_vec(&string_feature).called("json")?, 422, "features[3]"),
            ("a 1,001-character comment", "/v1/predict", Some(s.chat.as_str()), serde_json::to_vec(&json!({"features": rows[0], "comment": "é".repeat(1001)})).called("json")?, 422, "comment"),
            ("a rollback without a reason", "/admin/rollback", Some(s.admin.as_str()), b"{}".to_vec(), 422, "reason"),
        ];
        for (what, path, k, body, status, says) in cases {
            let (got, message) = post(&s, path, k, body)?;
            ensure(got == status && message.contains(says), what,
                format!("expected {status} with a message containing {says:?}, got {got} {message:?}"))?;
        }
        let (got, _) = post(&s, "/v1/predict", Some(&s.chat), good)?;
        ensure(got == 200, "a good request after the bad ones", format!("expected 200, got {got}"))?;
        ensure(s.service.version() == 2, "the served version", "bad requests must not change it")
    }
}

check! {
    /// A rollback in the middle of a load test: no request fails, the registry's production
    /// alias and the served version move back to version 1, every request sent after the
    /// rollback was acknowledged is answered by version 1, the audit log records it and still
    /// verifies, and the metrics count every answer.
    fn rollback_under_load_loses_no_request(exercise = "authorize", timeout_s = 300) {
        let s = stack("rollback")?;
        let rows = rows()?;
        let cfg = LoadConfig { concurrency: 8, requests: 2_000, rollback_after: Some(500) };
        let r = s.rt.block_on(load::run(&s.base, &s.chat, &s.admin, &rows, cfg)).called("load::run")?;
        let rb = r.rollback.clone().ok_or_else(|| Failure::new("the load test", "made no rollback"))?;
        ensure(rb.status == 200 && rb.from == Some(2) && rb.to == Some(1), "the rollback", format!("{rb:?}"))?;
        ensure(r.samples.len() == 2_000 && r.failed == 0, "the requests", format!("expected 2000 answered, none failed: {} answered, {} failed", r.samples.len(), r.failed))?;
        ensure(r.stale_after_rollback == 0, "requests after the acknowledgement", format!("{} answered by version 2", r.stale_after_rollback))?;
        ensure(r.by_version.get(&2).is_some_and(|n| *n >= 500) && r.by_version.get(&1).is_some_and(|n| *n > 0),
            "the versions that answered", format!("both, version 2 at least the first 500: {:?}", r.by_version))?;
        let prod = s.service.with_registry(|t| t.resolve(MODEL, PRODUCTION)).called("resolve")?;
        ensure(prod.version == 1 && s.service.version() == 1, "after the rollback", format!("registry says {}, service serves {}", prod.version, s.service.version()))?;
        let recs = audit::records(&s.dir.join("audit.jsonl")).called("records")?;
        ensure(recs.iter().any(|r| r.action == "model.rollback" && r.detail["from"] == 2 && r.detail["to"] == 1),
            "the audit log", "must hold the rollback from 2 to 1")?;
        ensure(s.service.audit().verify().called("verify")?.intact(), "the audit log", "must verify")?;
        let counted = s.service.metrics().count("POST", "/v1/predict", 200);
        ensure(counted == 2_000, "the metrics", format!("POST /v1/predict 200 counted {counted} times, 2000 were answered"))
    }
}

check! {
    /// A load test on loopback (8 clients, 2,000 predictions) holds the SLO: p99 within
    /// `SLO_P99_MS`, nothing failed; the percentiles follow the nearest-rank rule.
    fn a_load_test_holds_its_slo(exercise = "limits", timeout_s = 300) {
        let sorted: Vec<f64> = (1..=10).map(f64::from).collect();
        for (q, want) in [(0.1, 1.0), (0.5, 5.0), (0.55, 6.0), (0.95, 10.0), (1.0, 10.0), (0.0, 1.0)] {
            let got = load::nearest_rank(&sorted, q).called("nearest_rank")?;
            ensure(got == want, &format!("nearest_rank(1..=10, {q})"), format!("expected {want}, got {got}"))?;
        }
        expect_err("nearest_rank of nothing", load::nearest_rank(&[], 0.5))?;
        let s = stack("slo")?;
        let rows = rows()?;
        let cfg = LoadConfig { concurrency: 8, requests: 2_000, rollback_after: None };
        let r = s.rt.block_on(load::run(&s.base, &s.chat, &s.admin, &rows, cfg)).called("load::run")?;
        ensure(r.failed == 0 && r.p99_ms <= SLO_P99_MS, "the SLO",
            format!("p99 {:.2} ms (SLO {SLO_P99_MS} ms), {} failed", r.p99_ms, r.failed))
    }
}

check! {
    /// One request's telemetry: the server span is named `POST /v1/predict` with the
    /// OpenTelemetry HTTP attributes and the status, its children (authenticate, model.predict,
    /// db.insert) hang under it; the trace id is the request id given (a malformed one is
    /// replaced by a fresh 32-hex-digit id); every log line of the request carries its id; no
    /// log line holds the comment's e-mail or phone number.
    fn a_request_is_traced_and_logged_by_its_id(exercise = "scrub", timeout_s = 240) {
        let t = telemetry::install();
        let s = stack("trace")?;
        let rows = rows()?;
        let id = "0af7651916cd43dd8448eb211c80319c";
        let body = json!({"features": rows[1], "comment": "ring +44 20 7946 0000 or mail bob@example.org"});
        let (status, echoed, bad_echo) = s.rt.block_on(async {
            let c = reqwest::Client::new();
            let r = c.post(format!("{}/v1/predict", s.base)).bearer_auth(&s.chat).header("x-request-id", id).json(&body).send().await?;
            let status = r.status().as_u16();
            let echoed = r.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
            let r2 = c.get(format!("{}/healthz", s.base)).header("x-request-id", "not a valid id!").send().await?;
            let bad = r2.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            Ok::<_, reqwest::Error>((status, echoed, bad))
        }).called("the traced request")?;
        ensure(status == 200 && echoed == id, "the answer", format!("status {status}, x-request-id {echoed:?}"))?;
        ensure(bad_echo.len() == 32 && bad_echo.bytes().all(|b| b.is_ascii_hexdigit()), "a malformed request id", format!("must be replaced by 32 hex digits, got {bad_echo:?}"))?;
        let spans = t.trace(id);
        let root = spans.iter().find(|s| s.name == "POST /v1/predict")
            .ok_or_else(|| Failure::new("the trace", format!("no span named POST /v1/predict among {:?}", spans.iter().map(|s| &s.name).collect::<Vec<_>>())))?;
        for (k, v) in [("http.request.method", json!("POST")), ("http.route", json!("/v1/predict")), ("http.response.status_code", json!(200)), ("otel.kind", json!("server")), ("enduser.id", json!("alice"))] {
            ensure(root.attributes.get(k) == Some(&v), &format!("the server span's {k}"), format!("expected {v}, got {:?}", root.attributes.get(k)))?;
        }
        for child in ["authenticate", "model.predict", "db.insert"] {
            ensure(spans.iter().any(|s| s.name == child && s.parent_id == Some(root.span_id)), &format!("the span {child}"), "must be a child of the server span")?;
        }
        let logs = t.logs_of(id);
        ensure(logs.len() >= 2, "the request's log lines", format!("expected at least 2, got {}", logs.len()))?;
        let all = t.logs().iter().map(Value::to_string).collect::<String>();
        ensure(!all.contains("bob@example.org") && !all.contains("7946 0000") && all.contains("[EMAIL]"), "the logs", "must hold [EMAIL], not the address or the phone number")?;
        ensure(!all.contains(&s.chat) && !all.contains(&s.admin), "the logs", "must never hold an API key")
    }
}

check! {
    /// Secrets: from a file only if nobody else may read it, at least 32 bytes, a trailing
    /// newline dropped, never printed; the binary takes its key from the environment, refuses
    /// both sources at once, and refuses to start without one.
    fn secrets_come_from_the_environment_or_a_mounted_file(exercise = "mac", timeout_s = 120) {
        use std::os::unix::fs::PermissionsExt;
        let dir = scratch("secrets");
        let f = dir.join("key");
        let value = "k".repeat(40);
        std::fs::write(&f, format!("{value}\n")).called("write")?;
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o604)).called("chmod")?;
        expect_err("from_file on a 0604 file", secrets::from_file("K", &f))?;
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o440)).called("chmod")?;
        let k = secrets::from_file("K", &f).called("from_file on a 0440 file")?;
        ensure(k.expose() == value.as_bytes(), "the key read", "must be the file without its newline")?;
        ensure(!format!("{k:?} {k}").contains("kkkk"), "the key printed", "must not show its value")?;
        expect_err("a 31-byte secret", Secret::new("K", vec![1; 31]))?;
        let run = |env: &[(&str, String)]| {
            let mut c = Command::new(BIN);
            c.args(["audit", "--state"]).arg(&dir).env_remove("WB32_AUDIT_KEY").env_remove("WB32_AUDIT_KEY_FILE");
            for (k, v) in env { c.env(k, v); }
            c.output()
        };
        std::fs::write(dir.join("audit.jsonl"), "").called("write")?;
        let ok = run(&[("WB32_AUDIT_KEY", value.clone())]).called("the binary")?;
        ensure(ok.status.success(), "audit with the key in the environment", String::from_utf8_lossy(&ok.stderr).to_string())?;
        let both = run(&[("WB32_AUDIT_KEY", value.clone()), ("WB32_AUDIT_KEY_FILE", f.display().to_string())]).called("the binary")?;
        let err = String::from_utf8_lossy(&both.stderr).to_string();
        ensure(!both.status.success() && err.contains("set one"), "both sources set", err)?;
        let none = run(&[]).called("the binary")?;
        let err = String::from_utf8_lossy(&none.stderr).to_string();
        ensure(!none.status.success() && err.contains("WB32_AUDIT_KEY_FILE"), "no key at all", err)
    }
}

check! {
    /// Advisory ranges as RustSec writes them: bytes' RUSTSEC-2026-0007 (patched ≥ 1.11.1,
    /// unaffected < 1.2.1) affects 1.2.1 and 1.11.0, not 1.2.0 nor 1.11.1; the workspace's own
    /// Cargo.lock has no vulnerability outside its ignore list and no stale ignore entry.
    fn dependency_audit_reads_the_ranges_and_passes(exercise = "affected") {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(dir.join("advisory-db/crates/bytes/RUSTSEC-2026-0007.md")).called("the advisory")?;
        let a = advisories::parse_advisory(&text, "bytes").called("parse_advisory")?;
        ensure(a.id == "RUSTSEC-2026-0007" && a.kind == "vulnerability", "the advisory", format!("{a:?}"))?;
        for (v, want) in [("1.2.0", false), ("1.2.1", true), ("1.11.0", true), ("1.11.1", false), ("2.0.0", false)] {
            let got = advisories::affected(&a, &semver::Version::parse(v).called("Version::parse")?).called("affected")?;
            ensure(got == want, &format!("bytes {v}"), format!("expected affected = {want}, got {got}"))?;
        }
        let lock = "[[package]]\nname = \"bytes\"\nversion = \"1.11.0\"\nsource = \"registry+https://example.invalid/index\"\n\n[[package]]\nname = \"mine\"\nversion = \"0.1.0\"\n";
        let locked = advisories::parse_lock(lock).called("parse_lock")?;
        let found = advisories::audit(std::slice::from_ref(&a), &locked).called("audit")?;
        ensure(found.len() == 1 && found[0].version == "1.11.0", "a lock with bytes 1.11.0", format!("{found:?}"))?;
        expect_err("an ignore entry without a reason", advisories::parse_ignores("[[ignore]]\nid = \"X\"\nreason = \" \"\n"))?;
        let db = advisories::load_db(&dir.join("advisory-db")).called("load_db")?;
        let ws = std::fs::read_to_string(dir.join("../../Cargo.lock")).called("Cargo.lock")?;
        let ignores = advisories::parse_ignores(&std::fs::read_to_string(dir.join("advisory-ignore.toml")).called("the ignore file")?).called("parse_ignores")?;
        let verdict = advisories::judge(advisories::audit(&db, &advisories::parse_lock(&ws).called("parse_lock")?).called("audit")?, &ignores);
        ensure(verdict.failing.is_empty() && verdict.stale_ignores.is_empty(), "the workspace's dependency audit",
            format!("failing {:?}, stale ignores {:?}", verdict.failing.iter().map(|f| &f.id).collect::<Vec<_>>(), verdict.stale_ignores))
    }
}

check! {
    /// The model card says what the registry says: the production version, its artifact's
    /// SHA-256, its run and parameters, its last validation metrics, and every promotion.
    fn the_model_card_comes_from_the_registry(exercise = "card", timeout_s = 120) {
        let dir = scratch("card");
        let (t, v) = registry::setup(&dir).called("registry::setup")?;
        let card = registry::model_card(&t).called("model_card")?;
        let prod = t.resolve(MODEL, PRODUCTION).called("resolve")?;
        ensure(prod.version == v.current && card.contains(&format!("version {}", v.current)), "the version", card.clone())?;
        ensure(card.contains(&prod.sha256) && card.contains(&prod.run_id), "the lineage", "the artifact's SHA-256 and the run id")?;
        let loss = t.history(&prod.run_id, "valid_loss").called("history")?.last().map(|p| p.value).unwrap_or(f64::NAN);
        ensure(card.contains(&format!("valid_loss: {loss:.4}")), "the metrics", format!("valid_loss {loss:.4}"))?;
        ensure(card.contains("epochs=60") && card.contains("promote `production`: 1 → 2"), "the parameters and the history", card.clone())?;
        let m = registry::load(&t, v.previous).called("load")?;
        ensure(m.weights.len() == 30, "the previous version's model", "30 weights")
    }
}

check! {
    /// The manifests: week 29's lint finds nothing, the committed YAML is what the types
    /// make, the audit key is a mounted Secret no other user can read, the pod runs as non-root
    /// on a read-only root file system, and one replica with `Recreate` (one SQLite writer).
    fn the_manifests_are_consistent_and_committed(exercise = "card") {
        let objects = deploy::objects().called("deploy::objects")?;
        let lint = week29_containers_k8s::lint::lint(&objects).called("lint")?;
        ensure(lint.is_empty(), "week 29's lint", format!("{lint:?}"))?;
        let yaml = week29_containers_k8s::kustomize::to_yaml(&objects).called("to_yaml")?;
        let committed = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/production-system.yaml")).called("the committed manifests")?;
        ensure(yaml == committed, "deploy/production-system.yaml", "differs from deploy::objects(): run `cargo run -p week32-production-system -- manifests`")?;
        let d = &objects[1];
        let pod = &d["spec"]["template"]["spec"];
        ensure(pod["volumes"][0]["secret"]["defaultMode"] == 0o440 && pod["securityContext"]["runAsNonRoot"] == true
            && pod["containers"][0]["securityContext"]["readOnlyRootFilesystem"] == true, "the pod", format!("{pod}"))?;
        ensure(d["spec"]["replicas"] == 1 && d["spec"]["strategy"]["type"] == "Recreate", "the Deployment", "one replica, Recreate")?;
        let env = pod["containers"][0]["env"].to_string();
        ensure(env.contains("WB32_AUDIT_KEY_FILE") && !env.contains("\"WB32_AUDIT_KEY\""), "the container's environment", format!("the key's file only, never its value: {env}"))
    }
}

/// A child that is killed when the check ends, however it ends.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `serve` on a free port over `dir`; returns the child and its base URL.
fn serve(dir: &Path, audit_key: &str) -> Result<(KillOnDrop, String), Failure> {
    use std::io::BufRead;
    let mut child = KillOnDrop(
        Command::new(BIN)
            .args(["serve", "--addr", "127.0.0.1:0", "--state"])
            .arg(dir)
            .env("WB32_AUDIT_KEY", audit_key)
            .env_remove("WB32_AUDIT_KEY_FILE")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .called("spawning serve")?,
    );
    let stderr = child
        .0
        .stderr
        .take()
        .ok_or_else(|| Failure::new("serve", "no stderr"))?;
    let mut lines = std::io::BufReader::new(stderr).lines();
    loop {
        let line = lines
            .next()
            .ok_or_else(|| Failure::new("serve", "exited before saying where it serves"))?
            .called("reading serve's stderr")?;
        if let Some(rest) = line.strip_prefix("serving on ") {
            let base = rest.split_whitespace().next().unwrap_or("").to_string();
            std::thread::spawn(move || lines.for_each(drop));
            return Ok((child, base));
        }
    }
}

check! {
    /// The service SIGKILLed while four clients send predictions: every prediction it answered
    /// 200 is in the request store afterwards, the audit log still opens and verifies (a torn
    /// last line, if any, cut), and the service starts again on the same state and answers.
    fn a_killed_service_loses_no_answered_request(exercise = "verify", timeout_s = 300) {
        let dir = scratch("kill");
        let audit_key = "a".repeat(48);
        let made = Command::new(BIN)
            .args(["key", "--user", "alice", "--scopes", "chat", "--state"]).arg(&dir)
            .env("WB32_AUDIT_KEY", &audit_key).env_remove("WB32_AUDIT_KEY_FILE")
            .output().called("the key command")?;
        ensure(made.status.success(), "the key command", String::from_utf8_lossy(&made.stderr).to_string())?;
        let key = String::from_utf8_lossy(&made.stdout).trim().to_string();
        let rows = rows()?;
        let (mut child, base) = serve(&dir, &audit_key)?;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut clients = Vec::new();
        for c in 0..4 {
            let (stop, base, key, rows) = (stop.clone(), base.clone(), key.clone(), rows.clone());
            clients.push(std::thread::spawn(move || {
                let client = reqwest::blocking::Client::new();
                let mut acked = Vec::new();
                let mut n = 0;
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    let id = format!("kill-{c}-{n}");
                    n += 1;
                    let r = client.post(format!("{base}/v1/predict")).bearer_auth(&key)
                        .header("x-request-id", &id).json(&json!({"features": rows[n % rows.len()]})).send();
                    match r {
                        Ok(resp) if resp.status().as_u16() == 200 => acked.push(id),
                        Ok(_) => {}
                        Err(_) => break,
                    }
                }
                acked
            }));
        }
        std::thread::sleep(std::time::Duration::from_millis(700));
        child.0.kill().called("kill -9")?;
        let _ = child.0.wait();
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let acked: Vec<String> = clients.into_iter().flat_map(|c| c.join().unwrap_or_default()).collect();
        ensure(acked.len() >= 20, "predictions answered before the kill", format!("expected at least 20, got {}", acked.len()))?;
        let store = retention::open(&dir.join("requests.sqlite")).called("retention::open")?;
        let mut missing = Vec::new();
        for id in &acked {
            let n: i64 = store.query_row("SELECT COUNT(*) FROM requests WHERE request_id = ?1", [id], |r| r.get(0)).called("a lookup")?;
            if n != 1 {
                missing.push(id.clone());
            }
        }
        ensure(missing.is_empty(), "answered predictions in the store", format!("{} of {} missing: {:?}", missing.len(), acked.len(), &missing[..missing.len().min(5)]))?;
        let k = Secret::new("WB32_AUDIT_KEY", audit_key.clone().into_bytes()).called("Secret::new")?;
        let (log, _) = AuditLog::open(&dir.join("audit.jsonl"), k).called("AuditLog::open after the kill")?;
        ensure(log.verify().called("verify")?.intact(), "the audit log after the kill", "must verify")?;
        drop(log);
        let (_again, base) = serve(&dir, &audit_key)?;
        let r = reqwest::blocking::Client::new().post(format!("{base}/v1/predict")).bearer_auth(&key)
            .json(&json!({"features": rows[0]})).send().called("a request after the restart")?;
        ensure(r.status().as_u16() == 200, "after the restart", format!("expected 200, got {}", r.status()))
    }
}

check! {
    /// A chat completion through the service reaches SmolLM2 and comes back 200 with its usage;
    /// the language model's span (`chat smollm2-135m-instruct`, GenAI conventions) hangs under
    /// the server span and records the same token counts the answer reports; the prompt's
    /// e-mail address is in no log line and is stored redacted; streaming, too many tokens, too
    /// many messages and a missing key are refused.
    fn chat_completions_are_bounded_traced_and_redacted(exercise = "authorize", timeout_s = 300) {
        let t = telemetry::install();
        let s = stack("chat")?;
        let model = wb_llm::LocalModel::smollm2(wb_llm::WeightFormat::Quantized, &mut |_| {}).called("loading SmolLM2")?;
        s.service.attach_chat(Box::new(model), 4).called("attach_chat")?;
        let id = "chat-check-1";
        let prompt = "Reply to carol@example.net: what is 2 + 2?";
        let (status, answer) = s.rt.block_on(async {
            let r = reqwest::Client::new().post(format!("{}/v1/chat/completions", s.base)).bearer_auth(&s.chat)
                .header("x-request-id", id)
                .json(&json!({"messages": [{"role": "user", "content": prompt}], "max_tokens": 12})).send().await?;
            let status = r.status().as_u16();
            let v: Value = r.json().await?;
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            Ok::<_, reqwest::Error>((status, v))
        }).called("a chat completion")?;
        ensure(status == 200, "the chat completion", format!("expected 200, got {status}: {answer}"))?;
        let (input, output) = (answer["usage"]["prompt_tokens"].as_u64(), answer["usage"]["completion_tokens"].as_u64());
        ensure(input.is_some_and(|n| n > 0) && output.is_some_and(|n| (1..=12).contains(&n)), "the answer's usage", format!("{}", answer["usage"]))?;
        let spans = t.trace(id);
        let root = spans.iter().find(|x| x.name == "POST /v1/chat/completions").ok_or_else(|| Failure::new("the trace", "no server span"))?;
        let llm = spans.iter().find(|x| x.name == "chat smollm2-135m-instruct").ok_or_else(|| Failure::new("the trace", format!("no `chat smollm2-135m-instruct` span among {:?}", spans.iter().map(|x| &x.name).collect::<Vec<_>>())))?;
        ensure(llm.parent_id == Some(root.span_id), "the language model's span", "must be a child of the server span")?;
        ensure(llm.attributes.get("gen_ai.usage.input_tokens").and_then(Value::as_u64) == input
            && llm.attributes.get("gen_ai.usage.output_tokens").and_then(Value::as_u64) == output
            && llm.attributes.get("gen_ai.operation.name") == Some(&json!("chat")),
            "the GenAI attributes", format!("{:?}", llm.attributes))?;
        let all = t.logs().iter().map(Value::to_string).collect::<String>();
        ensure(!all.contains("carol@example.net"), "the logs", "must not hold the prompt's e-mail address")?;
        let stored: String = s.service.with_store(|c| c.query_row("SELECT comment FROM requests WHERE request_id = ?1", [id], |r| r.get(0))).called("the stored prompt")?;
        ensure(stored == "Reply to [EMAIL]: what is 2 + 2?", "the stored prompt", stored.clone())?;
        let msgs = |n: usize| json!({"messages": vec![json!({"role": "user", "content": "hi"}); n]});
        let cases = [
            ("a streamed request", json!({"messages": [{"role": "user", "content": "hi"}], "stream": true}), Some(s.chat.as_str()), 422),
            ("1000 tokens", json!({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 1000}), Some(s.chat.as_str()), 422),
            ("17 messages", msgs(17), Some(s.chat.as_str()), 422),
            ("no messages", json!({"messages": []}), Some(s.chat.as_str()), 422),
            ("no key", msgs(1), None, 401),
        ];
        for (what, body, k, want) in cases {
            let (got, message) = post(&s, "/v1/chat/completions", k, serde_json::to_vec(&body).called("json")?)?;
            ensure(got == want && !message.is_empty(), what, format!("expected {want} with a message, got {got} {message:?}"))?;
        }
        Ok(())
    }
}
