//! The server and the HTTP client against each other, in process, on a scripted model (no model
//! files needed): the client's text and usage equal the script's, structured output is checked
//! on both sides, the server's refusals reach the client with the field named, a full queue is
//! refused with 429, and a client that stops reading stops the generation.
//! (`openai-e2e.sh` tests the server with the real model and the official Python client.)

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use wb_llm::server::{Config, Stats, router};
use wb_llm::{
    ChatModel, FinishReason, GenerateOptions, Message, OpenAiClient, Reply, ScriptedModel,
};

/// A scripted model that takes `delay` per word, as a real one takes time per token.
struct Slow {
    inner: ScriptedModel,
    delay: Duration,
}

impl ChatModel for Slow {
    fn name(&self) -> &str {
        "scripted"
    }
    fn chat_stream(
        &mut self,
        messages: &[Message],
        opts: &GenerateOptions,
        on_text: &mut dyn FnMut(&str) -> bool,
    ) -> wb_llm::Result<Reply> {
        let delay = self.delay;
        self.inner.chat_stream(messages, opts, &mut |t| {
            std::thread::sleep(delay);
            on_text(t)
        })
    }
    fn chat_json_stream(
        &mut self,
        messages: &[Message],
        schema: &serde_json::Value,
        opts: &GenerateOptions,
        on_text: &mut dyn FnMut(&str) -> bool,
    ) -> wb_llm::Result<Reply> {
        self.inner.chat_json_stream(messages, schema, opts, on_text)
    }
}

/// Starts a server for `model` on a free port, on a runtime of its own; returns its `/v1` URL.
fn start(model: Box<dyn ChatModel + Send>, queue: usize) -> (String, Arc<Stats>) {
    let (app, stats, _worker) = router(
        model,
        None,
        &Config {
            queue,
            ..Config::default()
        },
    );
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    let addr = rx.recv().unwrap();
    (format!("http://{addr}/v1"), stats)
}

fn wait_for(what: &str, cond: impl Fn() -> bool) {
    let end = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn the_client_reads_what_the_server_streams() {
    let script = ScriptedModel::new(["The capital of France is Paris.", r#"{"n":3}"#, "x"]);
    let (url, _) = start(Box::new(script), 4);
    let mut client = OpenAiClient::new(&url, "scripted").unwrap();
    let mut pieces = Vec::new();
    let opts = GenerateOptions::default();
    let r = client
        .chat_stream(&[Message::user("Capital of France?")], &opts, &mut |p| {
            pieces.push(p.to_string());
            true
        })
        .unwrap();
    assert_eq!(r.text, "The capital of France is Paris.");
    assert_eq!(pieces.len(), 6, "{pieces:?}");
    assert_eq!(
        (r.finish, r.completion_tokens, r.prompt_tokens),
        (FinishReason::Stop, 6, 3)
    );
    let schema = serde_json::json!({"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]});
    let r = client
        .chat_json(&[Message::user("n?")], &schema, &opts)
        .unwrap();
    assert_eq!(r.text, r#"{"n":3}"#);
    // The server refuses a schema it cannot enforce; the client says which keyword.
    let bad = serde_json::json!({"type": "string", "format": "date"});
    let e = client
        .chat_json(&[Message::user("d?")], &bad, &opts)
        .unwrap_err();
    assert!(
        e.to_string().contains("400") && e.to_string().contains("format"),
        "{e}"
    );
    // A model the server does not have.
    let mut other = OpenAiClient::new(&url, "gpt-9").unwrap();
    let e = other.chat(&[Message::user("hi")], &opts).unwrap_err();
    assert!(e.to_string().contains("404"), "{e}");
    assert!(
        OpenAiClient::new("localhost:8080", "m").is_err(),
        "no scheme"
    );
}

#[test]
fn a_full_queue_is_refused_at_once_with_retry_after() {
    let words = "word ".repeat(40);
    let script = ScriptedModel::new(vec![words.clone(); 3]);
    let slow = Slow {
        inner: script,
        delay: Duration::from_millis(25),
    };
    let (url, stats) = start(Box::new(slow), 1);
    let spawn = |url: String| {
        std::thread::spawn(move || {
            let mut c = OpenAiClient::new(&url, "scripted").unwrap();
            c.chat(&[Message::user("go")], &GenerateOptions::default())
        })
    };
    let first = spawn(url.clone());
    wait_for("the first request to start", || {
        stats.busy.load(Ordering::SeqCst) == 1
    });
    let second = spawn(url.clone());
    wait_for("the second to queue", || {
        stats.queued.load(Ordering::SeqCst) == 1
    });
    let start = Instant::now();
    let response = reqwest::blocking::Client::new()
        .post(format!("{url}/chat/completions"))
        .json(&serde_json::json!({"model": "scripted", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .unwrap();
    assert!(start.elapsed() < Duration::from_millis(500));
    assert_eq!(response.status(), 429);
    let retry: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1);
    let body: serde_json::Value = response.json().unwrap();
    assert_eq!(body["error"]["type"], "rate_limit_error");
    for t in [first, second] {
        assert_eq!(t.join().unwrap().unwrap().text, words);
    }
    assert_eq!(stats.rejected.load(Ordering::SeqCst), 1);
}

#[test]
fn a_client_that_stops_reading_stops_the_generation() {
    let script = ScriptedModel::new(["word ".repeat(200), "after".into()]);
    let slow = Slow {
        inner: script,
        delay: Duration::from_millis(20),
    };
    let (url, stats) = start(Box::new(slow), 4);
    let mut client = OpenAiClient::new(&url, "scripted").unwrap();
    let mut seen = 0;
    let start = Instant::now();
    let r = client
        .chat_stream(
            &[Message::user("go")],
            &GenerateOptions::default(),
            &mut |_| {
                seen += 1;
                seen < 3
            },
        )
        .unwrap();
    assert_eq!((r.finish, seen), (FinishReason::Cancelled, 3));
    // 200 words take 4 s; the server stops within a few of them.
    wait_for("the server to stop", || stopped(&stats));
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    // and serves the next request
    let r = client
        .chat(&[Message::user("again")], &GenerateOptions::default())
        .unwrap();
    assert_eq!(r.text, "after");
}

fn stopped(stats: &Stats) -> bool {
    stats.cancelled.load(Ordering::SeqCst) == 1 && stats.busy.load(Ordering::SeqCst) == 0
}

#[test]
fn a_client_that_gives_up_on_a_whole_answer_stops_the_generation_too() {
    let script = ScriptedModel::new(["word ".repeat(200)]);
    let slow = Slow {
        inner: script,
        delay: Duration::from_millis(20),
    };
    let (url, stats) = start(Box::new(slow), 4);
    let start = Instant::now();
    let e = reqwest::blocking::Client::new()
        .post(format!("{url}/chat/completions"))
        .timeout(Duration::from_millis(300))
        .json(&serde_json::json!({"model": "scripted", "messages": [{"role": "user", "content": "go"}]}))
        .send()
        .unwrap_err();
    assert!(e.is_timeout(), "{e}");
    wait_for("the server to stop", || stopped(&stats));
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
}
