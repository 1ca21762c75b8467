//! Grader checks for week 18: templates, few-shot conversations, example selection, the schema
//! from the Rust type, validation against the `jsonschema` package, JSON found in prose, the
//! repair loop, the HTTP client against the local server and a misbehaving one, and the local
//! model answering every approach.
//!
//! References: `crates/grader/fixtures/week18.json` (the `jsonschema` package's verdicts, made by
//! `make_fixtures.py`), strings and vectors written by hand, the scripted model's known replies,
//! HTTP failures the check's own fake server produces.

use grader::{Called, Failure, check, ensure, expect_err, fixture};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use week18_prompting::email::{self, Email, Label};
use week18_prompting::eval::{self, Approach};
use week18_prompting::prompts::{
    Prompts, SYSTEM, Task, few_shot_messages, parse_label, select_examples,
};
use week18_prompting::repair::ask_json;
use week18_prompting::schema::{Triage, extract_json, schema_of, validate};
use week18_prompting::wb_llm::{
    ChatModel, GenerateOptions, LocalModel, Message, OpenAiClient, Role, ScriptedModel,
    WeightFormat,
};
use week18_prompting::{axum, tokio};

fn sample(label: Label, subject: &str, body: &str) -> Email {
    Email {
        id: "x".into(),
        label,
        from: "\"Jane Doe\" <jane@example.com>".into(),
        sender: "jane@example.com".into(),
        subject: subject.into(),
        body: body.into(),
    }
}

fn is(m: &Message, role: Role, content: &str) -> bool {
    m.role == role && m.content == content
}

check! {
    /// The templates, rendered by hand: the e-mail's two headers and its body cut at a word, the
    /// classification question after it, the repair prompt naming the error; a missing variable
    /// and an unknown template are errors naming them.
    fn templates_render_exactly(exercise = "few_shot") {
        let p = Prompts::new(20).called("Prompts::new")?;
        let e = sample(Label::Spam, "Win big", "Claim your prize today before it is gone");
        let text = p.email_text(&e).called("email_text")?;
        let expected = "From: \"Jane Doe\" <jane@example.com>\nSubject: Win big\n\nClaim your prize …";
        ensure(text == expected, "email_text", format!("expected {expected:?}, got {text:?}"))?;
        let q = p.classify(&e).called("classify")?;
        let expected = format!("{expected}\n\nIs this e-mail spam (unwanted advertising or a scam) or ham (a normal e-mail)? Answer with one word: spam or ham.");
        ensure(q == expected, "classify", format!("expected {expected:?}, got {q:?}"))?;
        let r = p.repair("at /label: bad (enum)").called("repair")?;
        let expected = "Your reply is not valid: at /label: bad (enum). Reply again with only the corrected JSON object, nothing else.";
        ensure(r == expected, "repair", format!("expected {expected:?}, got {r:?}"))?;
        let e1 = expect_err("render(classify) without email_text", p.render("classify", week18_prompting::minijinja::context! {}))?;
        ensure(e1.contains("email_text") || e1.contains("undefined"), "the error", format!("should name the missing variable: {e1}"))?;
        let e2 = expect_err("render(nope)", p.render("nope", week18_prompting::minijinja::context! {}))?;
        ensure(e2.contains("nope"), "the error", format!("should name the template: {e2}"))?;
        let few = few_shot_messages(&p, Task::Classify, &[], &e).called("few_shot_messages")?;
        let zero = week18_prompting::prompts::zero_shot_messages(&p, Task::Classify, &e).called("zero_shot_messages")?;
        ensure(few == zero, "few-shot with no example", format!("renders as zero-shot: {few:?} vs {zero:?}"))
    }
}

check! {
    /// Few-shot conversations: the system prompt, then each example as a question and its right
    /// answer (a word, or the JSON of its Triage), then the question; zero examples is zero-shot.
    fn few_shot_conversations_put_examples_as_past_turns(exercise = "few_shot") {
        let p = Prompts::new(100).called("Prompts::new")?;
        let a = sample(Label::Spam, "Cheap pills", "Buy now, limited offer, best prices online");
        let b = sample(Label::Ham, "Meeting notes", "Here are the notes from today's meeting on the build");
        let q = sample(Label::Spam, "Free money", "You have been selected to receive a transfer");
        let m = few_shot_messages(&p, Task::Classify, &[&a, &b], &q).called("few_shot_messages")?;
        let ok = m.len() == 6
            && is(&m[0], Role::System, SYSTEM)
            && is(&m[1], Role::User, &p.classify(&a).called("classify")?)
            && is(&m[2], Role::Assistant, "spam")
            && is(&m[3], Role::User, &p.classify(&b).called("classify")?)
            && is(&m[4], Role::Assistant, "ham")
            && is(&m[5], Role::User, &p.classify(&q).called("classify")?);
        ensure(ok, "few_shot_messages(Classify, 2 examples)", format!("expected system, (user, assistant) × 2, user; got {m:?}"))?;
        let m = few_shot_messages(&p, Task::Extract, &[&a], &q).called("few_shot_messages")?;
        let json = r#"{"label":"spam","sender":"jane@example.com","subject":"Cheap pills"}"#;
        ensure(m.len() == 4 && is(&m[2], Role::Assistant, json), "few_shot_messages(Extract)", format!("the example's answer should be {json}; got {m:?}"))?;
        let m = few_shot_messages(&p, Task::Classify, &[], &q).called("few_shot_messages")?;
        ensure(m.len() == 2 && is(&m[0], Role::System, SYSTEM), "few_shot_messages with no example", format!("is zero-shot: {m:?}"))
    }
}

check! {
    /// Example selection by hand: cosine similarities of unit vectors, most similar first, ties
    /// to the smaller index; k larger than the pool and vectors of other widths refused.
    fn examples_are_the_most_similar_ones(exercise = "select_examples") {
        let s = std::f32::consts::FRAC_1_SQRT_2;
        let pool = vec![vec![1.0, 0.0], vec![0.0, 1.0], vec![s, s], vec![-1.0, 0.0], vec![s, s]];
        let got = select_examples(&[1.0, 0.0], &pool, 3).called("select_examples")?;
        ensure(got == vec![0, 2, 4], "select_examples([1, 0], k = 3)", format!("cosines 1, 0, .71, −1, .71: expected [0, 2, 4], got {got:?}"))?;
        let got = select_examples(&[0.0, 1.0], &pool, 1).called("select_examples")?;
        ensure(got == vec![1], "select_examples([0, 1], k = 1)", format!("expected [1], got {got:?}"))?;
        let got = select_examples(&[0.0, 1.0], &pool, 0).called("select_examples")?;
        ensure(got.is_empty(), "select_examples(k = 0)", format!("expected none, got {got:?}"))?;
        let e = expect_err("select_examples(k = 6 of 5)", select_examples(&[1.0, 0.0], &pool, 6))?;
        ensure(e.contains("`k`"), "the error", format!("should name k: {e}"))?;
        let e = expect_err("select_examples(3-wide query)", select_examples(&[1.0, 0.0, 0.0], &pool, 1))?;
        ensure(e.contains("`pool`"), "the error", format!("should name pool: {e}"))
    }
}

check! {
    /// The schema schemars derives from `Triage` is the one the fixture validates against
    /// (written by hand to what the type says: three required fields, an enum, two lengths, no
    /// other field).
    fn the_schema_from_the_rust_type_is_the_expected_one(exercise = "validate") {
        let fx = fixture("week18");
        let got = schema_of::<Triage>();
        ensure(got == fx["schemas"]["triage"], "schema_of::<Triage>()", format!("expected {}, got {got}", fx["schemas"]["triage"]))?;
        let good = serde_json::to_value(Triage { label: Label::Ham, sender: "a@b.c".into(), subject: "Hi".into() }).called("to_value")?;
        validate(&good, &got).called("validate(a serialised Triage)")?;
        let e = expect_err("validate(a Triage without its subject)", validate(&json!({"label": "ham", "sender": "a@b.c"}), &got))?;
        ensure(e.contains("subject"), "the error", format!("names the missing field: {e}"))
    }
}

check! {
    /// 23 documents against two schemas: the same verdict as the `jsonschema` package, and for
    /// each invalid one the same JSON Pointer and the same keyword.
    fn validation_agrees_with_jsonschema(exercise = "validate") {
        let fx = fixture("week18");
        for (i, case) in fx["cases"].as_array().cloned().unwrap_or_default().iter().enumerate() {
            let schema = &fx["schemas"][case["schema"].as_str().unwrap_or_default()];
            let doc = &case["doc"];
            let got = validate(doc, schema);
            let what = format!("case {i}: {doc} against {}", case["schema"]);
            match (case["valid"].as_bool().unwrap_or(false), got) {
                (true, Ok(())) => {}
                (true, Err(e)) => return Err(Failure::new(what, format!("jsonschema finds it valid; yours says {e}"))),
                (false, Ok(())) => return Err(Failure::new(what, format!("jsonschema finds it invalid ({}); yours says valid", case["message"]))),
                (false, Err(e)) => {
                    let (path, keyword) = (case["path"].as_str().unwrap_or(""), case["keyword"].as_str().unwrap_or(""));
                    ensure(e.path == path && e.keyword == keyword, &what, format!("jsonschema: at {path:?}, {keyword}; yours: at {:?}, {}", e.path, e.keyword))?;
                }
            }
        }
        Ok(())
    }
}

check! {
    /// JSON in a reply: the whole reply, or the object inside prose or a ```json fence, nested
    /// braces kept; no object at all is None.
    fn json_is_found_in_prose_and_fences(exercise = "extract_json") {
        let cases: Vec<(&str, Option<Value>)> = vec![
            (r#"{"a": 1}"#, Some(json!({"a": 1}))),
            ("  [1, 2]  ", Some(json!([1, 2]))),
            ("Sure! Here it is:\n```json\n{\"label\": \"spam\", \"n\": {\"x\": [1]}}\n```\nHope this helps.", Some(json!({"label": "spam", "n": {"x": [1]}}))),
            ("first {\"a\": 1} then {\"b\": 2}", Some(json!({"a": 1}))),
            ("The answer is {not json} sorry", None),
            ("no braces at all", None),
            ("", None),
        ];
        for (reply, expected) in cases {
            let got = extract_json(reply);
            ensure(got == expected, &format!("extract_json({reply:?})"), format!("expected {expected:?}, got {got:?}"))?;
        }
        Ok(())
    }
}

check! {
    /// The repair loop against a scripted model: prose, then a wrong enum, then a valid object —
    /// valid after 3 replies, each refusal sent back naming what was wrong; a model that never
    /// gets it right stops at the limit with every error; 0 attempts is refused.
    fn the_repair_loop_converges_against_the_scripted_model(exercise = "ask_json") {
        let p = Prompts::new(100).called("Prompts::new")?;
        let schema = schema_of::<Triage>();
        let valid = json!({"label": "spam", "sender": "a@b.c", "subject": "Hi"});
        let mut model = ScriptedModel::new([
            "It is spam, from a@b.c.".to_string(),
            r#"Here: {"label": "junk", "sender": "a@b.c", "subject": "Hi"}"#.into(),
            valid.to_string(),
        ]);
        let start = vec![Message::system(SYSTEM), Message::user("extract this")];
        let out = ask_json(&mut model, &p, &start, &schema, &GenerateOptions::default(), 5).called("ask_json")?;
        ensure(out.value.as_ref() == Some(&valid) && out.attempts == 3 && out.errors.len() == 2, "ask_json", format!("valid after 3 replies with 2 errors; got {out:?}"))?;
        ensure(out.errors[1].contains("/label") && out.errors[1].contains("enum"), "the second error", format!("names /label and enum: {}", out.errors[1]))?;
        let last = model.seen.last().cloned().unwrap_or_default();
        let ok = last.len() == 6
            && last[2].role == Role::Assistant && last[2].content == "It is spam, from a@b.c."
            && last[3].role == Role::User && last[3].content == p.repair(&out.errors[0]).called("repair")?
            && last[5].content == p.repair(&out.errors[1]).called("repair")?;
        ensure(ok, "the third conversation", format!("the start, then each refused reply followed by the repair prompt with its error; got {last:?}"))?;
        let mut stubborn = ScriptedModel::new(["nope", "still nope", "never"]);
        let out = ask_json(&mut stubborn, &p, &start, &schema, &GenerateOptions::default(), 2).called("ask_json")?;
        ensure(out.value.is_none() && out.attempts == 2 && out.errors.len() == 2, "ask_json with a model that never answers JSON", format!("no value after 2 attempts, 2 errors; got {out:?}"))?;
        let e = expect_err("ask_json(max_attempts = 0)", ask_json(&mut stubborn, &p, &start, &schema, &GenerateOptions::default(), 0))?;
        ensure(e.contains("max_attempts"), "the error", format!("names max_attempts: {e}"))
    }
}

/// A fake OpenAI-compatible server on a free port: `/error/v1` answers 500 in OpenAI's error
/// shape, `/garbage/v1` streams a chunk that is not JSON, `/cut/v1` ends the stream before
/// `[DONE]`, `/slow/v1` answers after 30 s.
fn fake_server(rt: &tokio::runtime::Runtime) -> Result<String, Failure> {
    use axum::http::StatusCode;
    use axum::routing::post;
    let sse =
        |body: &'static str| move || async move { ([("content-type", "text/event-stream")], body) };
    let app = axum::Router::new()
        .route("/error/v1/chat/completions", post(|| async {
            (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(json!({"error": {"message": "the model is overloaded"}})))
        }))
        .route("/garbage/v1/chat/completions", post(sse("data: {\"choices\": [{\"delta\": {\"content\": \"Hi\"}}]}\n\ndata: {this is not json\n\n")))
        .route("/cut/v1/chat/completions", post(sse("data: {\"choices\": [{\"delta\": {\"content\": \"Hi\"}}]}\n\n")))
        .route("/slow/v1/chat/completions", post(|| async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            "too late"
        }));
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .called("bind")?;
    let base = format!("http://{}", listener.local_addr().called("addr")?);
    rt.spawn(async move { axum::serve(listener, app).await });
    Ok(base)
}

check! {
    /// The HTTP backend: against the local OpenAI-compatible server (a scripted model behind it)
    /// it returns the reply and carries the repair loop; against a fake server, a 500, a chunk
    /// that is not JSON, a stream cut before [DONE] and a server that never answers are errors
    /// that say so (the last one after the client's time limit, not never).
    fn the_http_client_works_and_reports_every_failure(exercise = "ask_json") {
        let rt = tokio::runtime::Runtime::new().called("tokio runtime")?;
        let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).called("bind")?;
        let base = format!("http://{}/v1", listener.local_addr().called("addr")?);
        let valid = json!({"label": "ham", "sender": "a@b.c", "subject": "Hi"});
        let scripted = ScriptedModel::new(["hello over HTTP".to_string(), "not JSON yet".into(), valid.to_string()]);
        let (router, _, _) = week18_prompting::wb_llm::server::router(Box::new(scripted), None, &Default::default());
        rt.spawn(async move { axum::serve(listener, router).await });
        let mut client = OpenAiClient::new(&base, "scripted").called("OpenAiClient::new")?
            .with_timeout(Duration::from_secs(20)).called("with_timeout")?;
        let reply = client.chat(&[Message::user("hi")], &GenerateOptions::default()).called("chat over HTTP")?;
        ensure(reply.text == "hello over HTTP", "the reply over HTTP", format!("expected the scripted reply, got {:?}", reply.text))?;
        let p = Prompts::new(100).called("Prompts::new")?;
        let out = ask_json(&mut client, &p, &[Message::user("extract")], &schema_of::<Triage>(), &GenerateOptions::default(), 3).called("ask_json over HTTP")?;
        ensure(out.value.as_ref() == Some(&valid) && out.attempts == 2, "the repair loop over HTTP", format!("valid at the second reply; got {out:?}"))?;

        let fake = fake_server(&rt)?;
        for (path, needle) in [("error", "overloaded"), ("garbage", "not JSON"), ("cut", "[DONE]")] {
            let mut c = OpenAiClient::new(&format!("{fake}/{path}/v1"), "m").called("OpenAiClient::new")?;
            let e = expect_err(&format!("chat against /{path}"), c.chat(&[Message::user("hi")], &GenerateOptions::default()))?;
            ensure(e.contains(needle), &format!("the error from /{path}"), format!("should say {needle:?}: {e}"))?;
        }
        let mut c = OpenAiClient::new(&format!("{fake}/slow/v1"), "m").called("OpenAiClient::new")?
            .with_timeout(Duration::from_millis(800)).called("with_timeout")?;
        let t = Instant::now();
        let e = expect_err("chat against a server that never answers", c.chat(&[Message::user("hi")], &GenerateOptions::default()))?;
        ensure(t.elapsed() < Duration::from_secs(10), "the time limit", format!("the call returned after {:?}, the limit was 0.8 s", t.elapsed()))?;
        ensure(e.to_lowercase().contains("time"), "the error", format!("should say it timed out: {e}"))?;
        rt.shutdown_background();
        Ok(())
    }
}

check! {
    /// SmolLM2 answers one spam and one ham e-mail of the corpus by every approach: one-word
    /// answers are read, and constrained decoding's replies are always valid for the schema.
    fn the_local_model_answers_every_approach(exercise = "ask_json", timeout_s = 300) {
        let all = email::load().called("email::load")?;
        let (tasks, pool) = email::task_set(&all, 1, 2, 7).called("task_set")?;
        let p = Prompts::new(200).called("Prompts::new")?;
        let schema = schema_of::<Triage>();
        let mut say = |_: &str| {};
        let mut model = LocalModel::smollm2(WeightFormat::default(), &mut say).called("LocalModel::smollm2")?;
        let examples: Vec<&Email> = pool.iter().take(2).collect();
        for task in &tasks {
            for approach in Approach::ALL {
                let a = eval::answer(&mut model, &p, approach, task, &examples, &schema, &eval::options(approach, 0.0, 0)).called("eval::answer")?;
                ensure(a.prompt_tokens > 0 && a.ms > 0.0, &format!("{} on {:?}", approach.name(), task.subject), format!("counted tokens and time: {a:?}"))?;
                if approach == Approach::Constrained {
                    ensure(a.valid && a.label.is_some(), &format!("constrained decoding on {:?}", task.subject), format!("a valid Triage by construction; got {:?}", a.text))?;
                }
            }
        }
        Ok(())
    }
}

check! {
    /// E-mails parse as mail clients read them (headers, an encoded subject, the address out of
    /// a display name, HTML without its tags); garbage, bad sizes and bad options are refused.
    fn emails_parse_and_bad_input_is_refused(exercise = "select_examples") {
        let raw = b"From: \"Jane Doe\" <Jane@Example.COM>\r\nSubject: =?utf-8?q?Caf=C3=A9_news?=\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body><p>Hello&nbsp;there,</p><script>x()</script><p>the caf\xc3\xa9 opens on Monday at nine, with coffee for everyone who comes early.</p></body></html>\r\n";
        let e = email::parse("t", Label::Ham, raw).ok_or_else(|| Failure::new("email::parse", "returned None for a good e-mail"))?;
        ensure(e.sender == "jane@example.com" && e.subject == "Café news", "the headers", format!("sender jane@example.com, subject Café news; got {:?}, {:?}", e.sender, e.subject))?;
        ensure(e.body.starts_with("Hello there, the café opens") && !e.body.contains('<') && !e.body.contains("x()"), "the body", format!("text without tags or scripts; got {:?}", e.body))?;
        ensure(email::parse("t", Label::Spam, b"this is not an e-mail").is_none(), "email::parse(garbage)", "None")?;
        let all = email::load().called("email::load")?;
        ensure(all.len() > 1_500, "the corpus", format!("most of the 2,000 e-mails are usable; {} are", all.len()))?;
        let e = expect_err("task_set(10,000 per class)", email::task_set(&all, 10_000, 1, 0))?;
        ensure(e.contains("per_class"), "the error", format!("names per_class: {e}"))?;
        let e = expect_err("Prompts::new(0)", Prompts::new(0))?;
        ensure(e.contains("body_chars"), "the error", format!("names body_chars: {e}"))?;
        for (answer, expected) in [("Spam.", Some(Label::Spam)), ("ham", Some(Label::Ham)), ("I think it is spam", Some(Label::Spam)), ("spam or ham?", Some(Label::Spam)), ("not sure", None), ("it could be ham or spam", None)] {
            let got = parse_label(answer);
            ensure(got == expected, &format!("parse_label({answer:?})"), format!("expected {expected:?}, got {got:?}"))?;
        }
        let got = select_examples(&[0.6, 0.8], &[vec![1.0, 0.0], vec![0.0, 1.0]], 1).called("select_examples")?;
        ensure(got == vec![1], "select_examples([.6, .8], k = 1)", format!("expected [1], got {got:?}"))
    }
}
