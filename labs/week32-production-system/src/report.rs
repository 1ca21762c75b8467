//! The report of the lab: its typed results (the JSON of `--json`) and how they read (`Display`).

use serde::Serialize;
use serde_json::Value;
use std::fmt;
use week32_production_system::advisories::Verdict;
use week32_production_system::load::LoadReport;
use week32_production_system::retention::RetentionReport;

/// Something refused, and what the refusal said.
#[derive(Debug, Serialize)]
pub struct Refusal {
    pub what: String,
    /// The HTTP status, for a request.
    pub status: Option<u16>,
    pub message: String,
}

impl Refusal {
    /// A refusal from a call that must fail.
    pub fn err<T, E: fmt::Display>(what: &str, r: Result<T, E>) -> Self {
        Self {
            what: what.to_string(),
            status: None,
            message: match r {
                Ok(_) => "ACCEPTED (should have been refused)".to_string(),
                Err(e) => e.to_string(),
            },
        }
    }
}

/// One tampering of the audit log and what verification found.
#[derive(Debug, Serialize)]
pub struct Tamper {
    pub what: String,
    pub first: String,
    pub problems: usize,
}

/// The lab's results.
#[derive(Serialize)]
pub struct Report {
    pub key_debug: String,
    pub versions: Vec<i64>,
    pub serving: i64,
    pub traced_status: u16,
    pub echoed_id: String,
    pub traced_p: f64,
    pub trace: String,
    pub logs: Vec<Value>,
    /// Log lines holding the traced comment's personal data or an API key.
    pub leaked: usize,
    pub stored_comment: Option<String>,
    pub chat_status: u16,
    pub chat_trace: String,
    pub chat_answer: String,
    pub chat_stored: Option<String>,
    pub bad_requests: Vec<Refusal>,
    pub after_status: u16,
    pub refusals: Vec<Refusal>,
    pub steady: LoadReport,
    pub rolled: LoadReport,
    pub predict_200: u64,
    pub metric_lines: Vec<String>,
    pub stored_before: i64,
    pub retention: RetentionReport,
    pub deleted_ids: Vec<String>,
    pub stored_after: i64,
    pub audit_records: usize,
    pub audit_problems: usize,
    pub audit_api_intact: bool,
    pub actions: Vec<String>,
    pub tampered: Vec<Tamper>,
    pub card: String,
    pub advisories: usize,
    pub locked: usize,
    pub dependency_audit: Verdict,
    pub lint: Vec<String>,
    pub deploy_matches: bool,
}

use week32_production_system::load::SLO_P99_MS;

fn load(f: &mut fmt::Formatter<'_>, name: &str, l: &LoadReport) -> fmt::Result {
    writeln!(
        f,
        "   {name}: {} requests from {} clients, {} failed, {:.0} requests/s",
        l.samples.len(),
        l.config.concurrency,
        l.failed,
        l.throughput_rps
    )?;
    writeln!(
        f,
        "     latency p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        l.p50_ms, l.p95_ms, l.p99_ms, l.max_ms
    )?;
    let held = l.failed == 0 && l.p99_ms <= SLO_P99_MS;
    writeln!(
        f,
        "     SLO (p99 within {SLO_P99_MS} ms, nothing failed): {}",
        if held { "held" } else { "MISSED" }
    )
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "1. Secrets: the audit key from a mounted file")?;
        for r in &self.refusals {
            writeln!(f, "   refused, {}: {}", r.what, r.message)?;
        }
        writeln!(
            f,
            "   read from a 0600 file; printed it reads {}",
            self.key_debug
        )?;
        writeln!(f)?;
        writeln!(
            f,
            "2. The registry (weeks 26 and 28): versions {:?} of cancer-classifier; serving version {}",
            self.versions, self.serving
        )?;
        writeln!(f)?;
        writeln!(
            f,
            "3. One request, traced (x-request-id {}): status {}, the id echoed back: {}, P(malignant) = {:.4}",
            self.echoed_id,
            self.traced_status,
            if self.echoed_id.is_empty() {
                "no"
            } else {
                "yes"
            },
            self.traced_p
        )?;
        for line in self.trace.lines() {
            writeln!(f, "   {line}")?;
        }
        writeln!(f, "   its log lines (JSON, personal data redacted):")?;
        for l in &self.logs {
            writeln!(f, "   {l}")?;
        }
        writeln!(
            f,
            "   stored comment: {}",
            self.stored_comment.as_deref().unwrap_or("none")
        )?;
        writeln!(
            f,
            "   a chat completion (x-request-id chat-trace-1) to SmolLM2: status {}",
            self.chat_status
        )?;
        for line in self.chat_trace.lines() {
            writeln!(f, "   {line}")?;
        }
        writeln!(f, "   SmolLM2's answer: {:?}", self.chat_answer)?;
        writeln!(
            f,
            "   stored prompt: {}",
            self.chat_stored.as_deref().unwrap_or("none")
        )?;
        writeln!(
            f,
            "   log lines holding the e-mail, the phone number or an API key: {}",
            self.leaked
        )?;
        writeln!(f)?;
        writeln!(f, "4. Bad requests, refused with a status and a reason:")?;
        for r in &self.bad_requests {
            writeln!(
                f,
                "   {:<36} {} {}",
                r.what,
                r.status.unwrap_or(0),
                r.message
            )?;
        }
        writeln!(f, "   a good request after them: {}", self.after_status)?;
        writeln!(f)?;
        writeln!(f, "5. Load on loopback")?;
        load(f, "steady", &self.steady)?;
        load(f, "with a rollback", &self.rolled)?;
        if let Some(rb) = &self.rolled.rollback {
            writeln!(
                f,
                "     rollback {} → {} (status {}) after {} answers, acknowledged in {:.2} ms",
                rb.from.unwrap_or(-1),
                rb.to.unwrap_or(-1),
                rb.status,
                self.rolled.config.rollback_after.unwrap_or(0),
                rb.acked_ms - rb.asked_ms
            )?;
        }
        let by: Vec<String> = self
            .rolled
            .by_version
            .iter()
            .map(|(v, n)| format!("version {v}: {n}"))
            .collect();
        writeln!(f, "     served by version: {}", by.join(", "))?;
        writeln!(
            f,
            "     requests sent after the rollback was acknowledged that the old version answered: {}",
            self.rolled.stale_after_rollback
        )?;
        writeln!(f)?;
        writeln!(
            f,
            "6. Metrics (GET /metrics, Prometheus text): POST /v1/predict answered 200 {} times",
            self.predict_200
        )?;
        for l in &self.metric_lines {
            writeln!(f, "   {l}")?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "7. Retention (predictions and chats 30 days, admin 365 days, legal holds kept): {} rows stored",
            self.stored_before
        )?;
        let deleted: Vec<String> = self
            .retention
            .deleted
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        writeln!(
            f,
            "   deleted: {} ({}); kept for a legal hold: {}; kinds without a rule (kept, reported): {:?}",
            deleted.join(", "),
            self.deleted_ids.join(" "),
            self.retention.held,
            self.retention.unknown_kinds
        )?;
        writeln!(f, "   rows left: {}", self.stored_after)?;
        writeln!(f)?;
        writeln!(
            f,
            "8. The audit log: {} records ({}), {} problems; GET /admin/audit says intact: {}",
            self.audit_records,
            self.actions.join(", "),
            self.audit_problems,
            self.audit_api_intact
        )?;
        for t in &self.tampered {
            writeln!(
                f,
                "   {:<46} {} problem(s); first: {}",
                t.what, t.problems, t.first
            )?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "9. The model card (GET /admin/model-card), from the registry:"
        )?;
        for l in self.card.lines().filter(|l| !l.is_empty()) {
            writeln!(f, "   {l}")?;
        }
        writeln!(f)?;
        let d = &self.dependency_audit;
        writeln!(
            f,
            "10. Dependency audit: {} locked packages against {} vendored RustSec advisories: {} failing, {} accepted, {} warning(s)",
            self.locked,
            self.advisories,
            d.failing.len(),
            d.ignored.len(),
            d.warnings.len()
        )?;
        for line in d.to_string().lines() {
            writeln!(f, "   {line}")?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "11. Kubernetes: PersistentVolumeClaim, Deployment, Service; week 29's lint: {}; deploy/production-system.yaml up to date: {}",
            if self.lint.is_empty() {
                "nothing found".to_string()
            } else {
                self.lint.join("; ")
            },
            if self.deploy_matches { "yes" } else { "NO" }
        )
    }
}
