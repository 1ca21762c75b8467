//! Observability: what the service tells its operators, in the shapes their tools read.
//!
//! - **Traces.** Spans are `tracing` spans with the OpenTelemetry semantic conventions as field
//!   names (`http.request.method`, `http.route`, `http.response.status_code`,
//!   `gen_ai.request.model`, …) and `otel.name` / `otel.kind` as `tracing-opentelemetry` reads
//!   them; the trace id is the request id. [`TelemetryLayer`] keeps the finished spans so that
//!   the lab can print one request's trace and the checks can read it; an OTLP exporter would
//!   send the same spans to a collector.
//! - **Logs.** One JSON object per event, carrying the request id and span of the request it
//!   belongs to, with personal data redacted from every string (week 22's detectors) before it
//!   is kept or written.
//! - **Metrics.** [`Metrics`]: the `http.server.request.duration` histogram (OpenTelemetry's
//!   buckets) and the served model version, in Prometheus' text format for `GET /metrics`.

use serde::Serialize;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::io::Write;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;
use tracing_subscriber::registry::LookupSpan;
use week22_streaming_reliability::guard::{find_pii, redact};

/// The most spans and log lines kept in memory unless [`Telemetry::keep`] says otherwise (the
/// oldest are dropped first).
pub const KEEP: usize = 200_000;

/// A finished span.
#[derive(Debug, Clone, Serialize)]
pub struct SpanRecord {
    /// The request id of the request the span belongs to (`None` outside requests).
    pub trace_id: Option<String>,
    pub span_id: u64,
    pub parent_id: Option<u64>,
    /// `otel.name` if the span set one, else the span's name.
    pub name: String,
    /// Start, milliseconds since the Unix epoch.
    pub start_ms: f64,
    pub duration_us: f64,
    /// The span's fields, personal data redacted.
    pub attributes: Map<String, Value>,
}

struct SpanData {
    name: String,
    fields: Map<String, Value>,
    start: Instant,
    start_ms: f64,
    trace_id: Option<String>,
}

/// Turns a span's or event's fields into JSON values.
#[derive(Default)]
struct JsonVisitor(Map<String, Value>);

impl Visit for JsonVisitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), Value::from(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), Value::from(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), json!(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), Value::from(value));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().into(), Value::from(format!("{value:?}")));
    }
}

// ANCHOR: scrub
/// `text` with every e-mail address, phone number, card number and IBAN replaced by its
/// placeholder (`[EMAIL]`, …): what a log may hold.
pub fn scrub(text: &str) -> String {
    // BEGIN SOLUTION scrub
    let found = find_pii(text);
    if found.is_empty() {
        text.to_string()
    } else {
        redact(text, &found)
    }
    // END SOLUTION
}
// ANCHOR_END: scrub

/// Every string inside `value` scrubbed (see [`scrub`]).
pub fn scrub_value(value: &mut Value) {
    match value {
        Value::String(s) => *s = scrub(s),
        Value::Array(items) => items.iter_mut().for_each(scrub_value),
        Value::Object(map) => map.values_mut().for_each(scrub_value),
        _ => {}
    }
}

/// What the layer collected, shared with whoever reads it.
pub struct Telemetry {
    spans: Mutex<VecDeque<SpanRecord>>,
    logs: Mutex<VecDeque<Value>>,
    sink: Mutex<Option<Box<dyn Write + Send>>>,
    keep: std::sync::atomic::AtomicUsize,
}

impl Default for Telemetry {
    fn default() -> Self {
        Self {
            spans: Mutex::default(),
            logs: Mutex::default(),
            sink: Mutex::default(),
            keep: std::sync::atomic::AtomicUsize::new(KEEP),
        }
    }
}

impl Telemetry {
    /// Keeps at most `n` spans and `n` log lines in memory from now on (a long-running service
    /// keeps few: its logs go to the sink, its spans to an exporter).
    pub fn keep(&self, n: usize) {
        self.keep.store(n, Ordering::SeqCst);
    }

    fn push<T>(&self, q: &Mutex<VecDeque<T>>, item: T) {
        let keep = self.keep.load(Ordering::SeqCst);
        let mut q = q.lock().unwrap_or_else(|p| p.into_inner());
        while q.len() >= keep.max(1) {
            q.pop_front();
        }
        if keep > 0 {
            q.push_back(item);
        }
    }

    /// The finished spans of the trace `trace_id`, in the order they started.
    pub fn trace(&self, trace_id: &str) -> Vec<SpanRecord> {
        let q = self.spans.lock().unwrap_or_else(|p| p.into_inner());
        let mut spans: Vec<SpanRecord> = q
            .iter()
            .filter(|s| s.trace_id.as_deref() == Some(trace_id))
            .cloned()
            .collect();
        spans.sort_by(|a, b| a.start_ms.total_cmp(&b.start_ms));
        spans
    }

    /// The log lines of the request `request_id`.
    pub fn logs_of(&self, request_id: &str) -> Vec<Value> {
        let q = self.logs.lock().unwrap_or_else(|p| p.into_inner());
        q.iter()
            .filter(|l| l["request_id"] == request_id)
            .cloned()
            .collect()
    }

    /// Every log line kept.
    pub fn logs(&self) -> Vec<Value> {
        let q = self.logs.lock().unwrap_or_else(|p| p.into_inner());
        q.iter().cloned().collect()
    }

    /// Also writes every log line to `sink` (a file, stdout), replacing any earlier sink;
    /// `None` stops writing.
    pub fn write_logs_to(&self, sink: Option<Box<dyn Write + Send>>) {
        *self.sink.lock().unwrap_or_else(|p| p.into_inner()) = sink;
    }
}

/// The `tracing` layer that fills a [`Telemetry`].
pub struct TelemetryLayer(Arc<Telemetry>);

impl<S> Layer<S> for TelemetryLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut v = JsonVisitor::default();
        attrs.record(&mut v);
        let inherited = span.parent().and_then(|p| {
            p.extensions()
                .get::<SpanData>()
                .and_then(|d| d.trace_id.clone())
        });
        let trace_id =
            v.0.get("request_id")
                .and_then(Value::as_str)
                .map(str::to_string)
                .or(inherited);
        let name =
            v.0.get("otel.name")
                .and_then(Value::as_str)
                .map_or_else(|| attrs.metadata().name().to_string(), str::to_string);
        span.extensions_mut().insert(SpanData {
            name,
            fields: v.0,
            start: Instant::now(),
            start_ms: wall_ms(),
            trace_id,
        });
    }

    fn on_record(&self, id: &Id, values: &tracing::span::Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut ext = span.extensions_mut();
        if let Some(data) = ext.get_mut::<SpanData>() {
            let mut v = JsonVisitor(std::mem::take(&mut data.fields));
            values.record(&mut v);
            if let Some(name) = v.0.get("otel.name").and_then(Value::as_str) {
                data.name = name.to_string();
            }
            data.fields = v.0;
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut v = JsonVisitor::default();
        event.record(&mut v);
        let (mut request_id, mut span_id, mut span_name) = (None, None, None);
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope {
                let ext = span.extensions();
                if let Some(d) = ext.get::<SpanData>() {
                    if span_id.is_none() {
                        span_id = Some(span.id().into_u64());
                        span_name = Some(d.name.clone());
                    }
                    if d.trace_id.is_some() {
                        request_id = d.trace_id.clone();
                        break;
                    }
                }
            }
        }
        let meta = event.metadata();
        let message = v.0.remove("message").unwrap_or(Value::Null);
        let mut line = json!({
            "timestamp_ms": crate::now_ms(),
            "level": meta.level().as_str(),
            "target": meta.target(),
            "message": message,
            "request_id": request_id,
            "span_id": span_id,
            "span": span_name,
            "fields": Value::Object(v.0),
        });
        scrub_value(&mut line);
        if let Some(sink) = self
            .0
            .sink
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_mut()
        {
            let _ = writeln!(sink, "{line}");
        }
        self.0.push(&self.0.logs, line);
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let Some(data) = span.extensions_mut().remove::<SpanData>() else {
            return;
        };
        let mut attributes = Value::Object(data.fields);
        scrub_value(&mut attributes);
        let Value::Object(attributes) = attributes else {
            return;
        };
        self.0.push(
            &self.0.spans,
            SpanRecord {
                trace_id: data.trace_id,
                span_id: id.into_u64(),
                parent_id: span.parent().map(|p| p.id().into_u64()),
                name: data.name,
                start_ms: data.start_ms,
                duration_us: data.start.elapsed().as_secs_f64() * 1e6,
                attributes,
            },
        );
    }
}

/// Now, milliseconds since the Unix epoch, to the microsecond.
fn wall_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1e3)
}

static GLOBAL: OnceLock<Arc<Telemetry>> = OnceLock::new();

/// The process's telemetry: installs [`TelemetryLayer`] as the global `tracing` subscriber the
/// first time (a process has one), and returns what it collects.
pub fn install() -> Arc<Telemetry> {
    GLOBAL
        .get_or_init(|| {
            let t = Arc::new(Telemetry::default());
            // INFO and above: the service's own spans and events, not every connection
            // hyper accepts (TRACE).
            let subscriber = tracing_subscriber::registry().with(
                TelemetryLayer(t.clone())
                    .with_filter(tracing_subscriber::filter::LevelFilter::INFO),
            );
            // Someone installed another subscriber first: the spans go there, and the lab
            // reads an empty telemetry (its checks say so) rather than failing to start.
            let _ = tracing::subscriber::set_global_default(subscriber);
            t
        })
        .clone()
}

/// `spans` (one trace) as an indented tree: each span's name, duration and attributes.
pub fn render_trace(spans: &[SpanRecord]) -> String {
    fn line(s: &SpanRecord, depth: usize, out: &mut String) {
        let attrs: Vec<String> = s
            .attributes
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "otel.name" | "request_id"))
            .map(|(k, v)| match v {
                Value::String(t) => format!("{k}={t}"),
                other => format!("{k}={other}"),
            })
            .collect();
        let _ = writeln!(
            out,
            "{:indent$}{} ({:.2} ms) {}",
            "",
            s.name,
            s.duration_us / 1e3,
            attrs.join(" "),
            indent = 2 * depth
        );
    }
    fn walk(spans: &[SpanRecord], parent: u64, depth: usize, out: &mut String) {
        for s in spans.iter().filter(|s| s.parent_id == Some(parent)) {
            line(s, depth, out);
            walk(spans, s.span_id, depth + 1, out);
        }
    }
    let ids: Vec<u64> = spans.iter().map(|s| s.span_id).collect();
    let mut out = String::new();
    // Roots: spans whose parent is not in this trace.
    for root in spans
        .iter()
        .filter(|s| s.parent_id.is_none_or(|p| !ids.contains(&p)))
    {
        line(root, 0, &mut out);
        walk(spans, root.span_id, 1, &mut out);
    }
    out
}

/// OpenTelemetry's advised bucket bounds for `http.server.request.duration`, seconds.
pub const BUCKETS_S: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

#[derive(Default, Clone)]
struct Series {
    count: u64,
    sum_s: f64,
    /// Observations at or below each bound (cumulative, as Prometheus counts them).
    buckets: [u64; BUCKETS_S.len()],
}

/// The service's metrics.
#[derive(Default)]
pub struct Metrics {
    series: Mutex<BTreeMap<(String, String, u16), Series>>,
    model_version: AtomicI64,
}

impl Metrics {
    /// Records one request of `method` on `route` answered with `status` in `seconds`.
    pub fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let mut m = self.series.lock().unwrap_or_else(|p| p.into_inner());
        let s = m
            .entry((method.to_string(), route.to_string(), status))
            .or_default();
        s.count += 1;
        s.sum_s += seconds;
        for (b, bound) in s.buckets.iter_mut().zip(BUCKETS_S) {
            if seconds <= bound {
                *b += 1;
            }
        }
    }

    pub fn set_model_version(&self, version: i64) {
        self.model_version.store(version, Ordering::SeqCst);
    }

    /// Requests counted for (`method`, `route`, `status`).
    pub fn count(&self, method: &str, route: &str, status: u16) -> u64 {
        let m = self.series.lock().unwrap_or_else(|p| p.into_inner());
        m.get(&(method.to_string(), route.to_string(), status))
            .map_or(0, |s| s.count)
    }

    /// The Prometheus text exposition (version 0.0.4) of every series.
    pub fn render(&self) -> String {
        let m = self.series.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        out.push_str(
            "# HELP http_server_request_duration_seconds Duration of HTTP server requests.\n",
        );
        out.push_str("# TYPE http_server_request_duration_seconds histogram\n");
        for ((method, route, status), s) in m.iter() {
            let labels = format!(
                "http_request_method=\"{method}\",http_route=\"{route}\",http_response_status_code=\"{status}\""
            );
            for (b, bound) in s.buckets.iter().zip(BUCKETS_S) {
                let _ = writeln!(
                    out,
                    "http_server_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {b}"
                );
            }
            let _ = writeln!(
                out,
                "http_server_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                s.count
            );
            let _ = writeln!(
                out,
                "http_server_request_duration_seconds_sum{{{labels}}} {}",
                s.sum_s
            );
            let _ = writeln!(
                out,
                "http_server_request_duration_seconds_count{{{labels}}} {}",
                s.count
            );
        }
        out.push_str(
            "# HELP model_version_served The registry version the service answers with.\n",
        );
        out.push_str("# TYPE model_version_served gauge\n");
        let _ = writeln!(
            out,
            "model_version_served {}",
            self.model_version.load(Ordering::SeqCst)
        );
        out
    }
}
