//! Prompt templates (minijinja, strict: a missing variable is an error, not an empty string), the
//! conversations of each approach, and reading a free-text answer.

use crate::PromptError;
use crate::email::{Email, Label};
use crate::schema::Triage;
use minijinja::{Environment, UndefinedBehavior, context};
use wb_llm::Message;

// ANCHOR: templates
/// The system prompt of every approach.
pub const SYSTEM: &str = "You are an e-mail assistant. You read one e-mail and answer exactly what is asked, nothing else.";

/// An e-mail as the model reads it: two headers and the start of the body.
pub const EMAIL: &str = "From: {{ email.from }}\nSubject: {{ email.subject }}\n\n{{ body }}";

/// Classification, answered in one word.
pub const CLASSIFY: &str = "{{ email_text }}\n\nIs this e-mail spam (unwanted advertising or a scam) or ham (a normal e-mail)? Answer with one word: spam or ham.";

/// Extraction to JSON.
pub const EXTRACT: &str = "{{ email_text }}\n\nReply with only a JSON object for this e-mail, like {\"label\": \"ham\", \"sender\": \"name@example.com\", \"subject\": \"Lunch on Friday\"}: label is spam or ham, sender is the sender's e-mail address, subject is copied exactly.";

/// Extraction under constrained decoding: the schema shapes the reply, so no example is shown
/// (a small model copies an example's values).
pub const EXTRACT_CONSTRAINED: &str = "{{ email_text }}\n\nReply with a JSON object for this e-mail: label is spam or ham, sender is the sender's e-mail address, subject is copied exactly.";

/// The follow-up of the repair loop, naming what was wrong.
pub const REPAIR: &str = "Your reply is not valid: {{ error }}. Reply again with only the corrected JSON object, nothing else.";
// ANCHOR_END: templates

/// The templates, compiled once.
#[derive(Debug)]
pub struct Prompts {
    env: Environment<'static>,
    /// How much of an e-mail's body a prompt shows, in characters.
    pub body_chars: usize,
}

impl Prompts {
    pub fn new(body_chars: usize) -> Result<Self, PromptError> {
        if body_chars == 0 {
            return Err(PromptError::InvalidArgument {
                arg: "body_chars".into(),
                detail: "0: a prompt must show some of the e-mail".into(),
            });
        }
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        for (name, source) in [
            ("email", EMAIL),
            ("classify", CLASSIFY),
            ("extract", EXTRACT),
            ("extract_constrained", EXTRACT_CONSTRAINED),
            ("repair", REPAIR),
        ] {
            env.add_template(name, source)?;
        }
        Ok(Self { env, body_chars })
    }

    /// Renders the template `name` with `ctx`; an unknown template or a missing variable is an
    /// error naming it.
    pub fn render(&self, name: &str, ctx: minijinja::Value) -> Result<String, PromptError> {
        Ok(self.env.get_template(name)?.render(ctx)?)
    }

    pub fn email_text(&self, email: &Email) -> Result<String, PromptError> {
        self.render(
            "email",
            context! { email => email, body => email.excerpt(self.body_chars) },
        )
    }

    pub fn classify(&self, email: &Email) -> Result<String, PromptError> {
        self.render(
            "classify",
            context! { email_text => self.email_text(email)? },
        )
    }

    pub fn extract(&self, email: &Email) -> Result<String, PromptError> {
        self.render(
            "extract",
            context! { email_text => self.email_text(email)? },
        )
    }

    pub fn repair(&self, error: &str) -> Result<String, PromptError> {
        self.render("repair", context! { error => error })
    }
}

/// What the model is asked for an e-mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Task {
    /// Spam or ham, in one word.
    Classify,
    /// Label, sender and subject as a JSON object (the prompt shows the object's shape).
    Extract,
    /// The same under constrained decoding (the schema gives the shape).
    ExtractConstrained,
}

impl Prompts {
    /// The user message asking `task` about `email`.
    pub fn ask(&self, task: Task, email: &Email) -> Result<String, PromptError> {
        match task {
            Task::Classify => self.classify(email),
            Task::Extract => self.extract(email),
            Task::ExtractConstrained => self.render(
                "extract_constrained",
                context! { email_text => self.email_text(email)? },
            ),
        }
    }
}

/// The right answer to `task` for `email`, as the assistant should write it: the label's word,
/// or the JSON object of its `Triage`.
pub fn answer_text(task: Task, email: &Email) -> String {
    match task {
        Task::Classify => label_word(email.label).to_string(),
        Task::Extract | Task::ExtractConstrained => serde_json::to_string(&Triage {
            label: email.label,
            sender: email.sender.clone(),
            subject: email.subject.clone(),
        })
        .unwrap_or_default(),
    }
}

/// Zero-shot: the instruction and the e-mail, nothing else.
pub fn zero_shot_messages(
    prompts: &Prompts,
    task: Task,
    email: &Email,
) -> Result<Vec<Message>, PromptError> {
    Ok(vec![
        Message::system(SYSTEM),
        Message::user(prompts.ask(task, email)?),
    ])
}

// ANCHOR: few_shot
/// Few-shot, the chat-native way: each example is a past turn — the same question about the
/// example e-mail, and the right answer as the assistant's reply — before the e-mail to answer.
pub fn few_shot_messages(
    prompts: &Prompts,
    task: Task,
    examples: &[&Email],
    email: &Email,
) -> Result<Vec<Message>, PromptError> {
    // BEGIN SOLUTION few_shot
    let mut messages = vec![Message::system(SYSTEM)];
    for example in examples {
        messages.push(Message::user(prompts.ask(task, example)?));
        messages.push(Message::assistant(answer_text(task, example)));
    }
    messages.push(Message::user(prompts.ask(task, email)?));
    Ok(messages)
    // END SOLUTION
}
// ANCHOR_END: few_shot

/// The word a label is written as.
pub fn label_word(label: Label) -> &'static str {
    match label {
        Label::Spam => "spam",
        Label::Ham => "ham",
    }
}

/// The label in a free-text answer: its first word if that is "spam" or "ham" (any case, any
/// punctuation), else the one of the two words it contains; `None` if neither or both.
pub fn parse_label(answer: &str) -> Option<Label> {
    let words: Vec<String> = answer
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    match words.first().map(String::as_str) {
        Some("spam") => return Some(Label::Spam),
        Some("ham") => return Some(Label::Ham),
        _ => {}
    }
    let spam = words.iter().any(|w| w == "spam");
    let ham = words.iter().any(|w| w == "ham");
    match (spam, ham) {
        (true, false) => Some(Label::Spam),
        (false, true) => Some(Label::Ham),
        _ => None,
    }
}

// ANCHOR: select_examples
/// The `k` examples most similar to the query: the largest cosine similarities (the embeddings
/// are unit vectors, so a dot product), most similar first; ties to the smaller index.
pub fn select_examples(
    query: &[f32],
    pool: &[Vec<f32>],
    k: usize,
) -> Result<Vec<usize>, PromptError> {
    if let Some((i, e)) = pool
        .iter()
        .enumerate()
        .find(|(_, e)| e.len() != query.len())
    {
        return Err(PromptError::InvalidArgument {
            arg: "pool".into(),
            detail: format!(
                "embedding {i} has {} values, the query {}",
                e.len(),
                query.len()
            ),
        });
    }
    if k > pool.len() {
        return Err(PromptError::InvalidArgument {
            arg: "k".into(),
            detail: format!("{k} examples asked for, the pool has {}", pool.len()),
        });
    }
    // BEGIN SOLUTION select_examples
    let mut scored: Vec<(usize, f32)> = pool
        .iter()
        .enumerate()
        .map(|(i, e)| (i, e.iter().zip(query).map(|(a, b)| a * b).sum()))
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    Ok(scored.into_iter().take(k).map(|(i, _)| i).collect())
    // END SOLUTION
}
// ANCHOR_END: select_examples
