//! The task set: real e-mails from the SpamAssassin corpus, parsed as mail clients parse them
//! (headers, MIME parts, transfer encodings, charsets: the `mailparse` crate), each with its
//! label (spam or ham) and the two fields an extraction must find: the sender's address and the
//! subject.

use crate::PromptError;
use serde::{Deserialize, Serialize};

/// Spam or ham (a wanted e-mail).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Label {
    Spam,
    Ham,
}

/// One e-mail, ready for a prompt.
#[derive(Debug, Clone, Serialize)]
pub struct Email {
    pub id: String,
    pub label: Label,
    /// The From header as written (`"Jane Doe" <jane@example.com>`).
    pub from: String,
    /// The sender's address alone, lower-cased: the extraction's answer.
    pub sender: String,
    pub subject: String,
    /// The text of the first text/plain part (or of the HTML part, tags removed), whitespace
    /// collapsed.
    pub body: String,
}

impl Email {
    /// The first `chars` characters of the body, cut at a word, with "…" when cut.
    pub fn excerpt(&self, chars: usize) -> String {
        if self.body.chars().count() <= chars {
            return self.body.clone();
        }
        let cut: String = self.body.chars().take(chars).collect();
        let cut = cut.rsplit_once(' ').map_or(cut.as_str(), |(a, _)| a);
        format!("{cut} …")
    }
}

#[derive(Deserialize)]
struct RawEmail {
    id: String,
    label: Label,
    raw: String,
}

/// Parses one raw e-mail. `None` when it has no usable From, Subject or text (the task set
/// keeps only e-mails a person could judge from their text).
pub fn parse(id: &str, label: Label, raw: &[u8]) -> Option<Email> {
    use mailparse::MailHeaderMap;
    let mail = mailparse::parse_mail(raw).ok()?;
    let subject = mail.headers.get_first_value("Subject")?.trim().to_string();
    let from = mail.headers.get_first_value("From")?.trim().to_string();
    let sender = match mailparse::addrparse(&from).ok()?.iter().next()? {
        mailparse::MailAddr::Single(s) => s.addr.to_lowercase(),
        mailparse::MailAddr::Group(g) => g.addrs.first()?.addr.to_lowercase(),
    };
    let body = text_of(&mail)?;
    let ok = !subject.is_empty()
        && subject.chars().count() <= 100
        && sender.contains('@')
        && body.chars().count() >= 80;
    ok.then(|| Email {
        id: id.to_string(),
        label,
        from,
        sender,
        subject,
        body,
    })
}

/// The text of the first text/plain part, else of the first text/html part without its tags.
fn text_of(mail: &mailparse::ParsedMail) -> Option<String> {
    fn find<'a>(
        m: &'a mailparse::ParsedMail<'a>,
        kind: &str,
    ) -> Option<&'a mailparse::ParsedMail<'a>> {
        if m.subparts.is_empty() {
            return (m.ctype.mimetype == kind).then_some(m);
        }
        m.subparts.iter().find_map(|p| find(p, kind))
    }
    let (part, html) = match find(mail, "text/plain") {
        Some(p) => (p, false),
        None => (find(mail, "text/html")?, true),
    };
    let text = part.get_body().ok()?;
    let text = if html { strip_tags(&text) } else { text };
    let words: Vec<&str> = text.split_whitespace().collect();
    Some(words.join(" "))
}

/// HTML without its tags, comments, scripts and styles, and with the commonest entities decoded.
fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let lower = html.to_lowercase();
    let mut i = 0;
    while i < html.len() {
        let rest = &lower[i..];
        if rest.starts_with("<!--") {
            i += rest.find("-->").map_or(rest.len(), |e| e + 3);
        } else if rest.starts_with("<script") || rest.starts_with("<style") {
            let close = if rest.starts_with("<script") {
                "</script>"
            } else {
                "</style>"
            };
            i += rest.find(close).map_or(rest.len(), |e| e + close.len());
        } else if rest.starts_with('<') {
            i += rest.find('>').map_or(rest.len(), |e| e + 1);
            out.push(' ');
        } else {
            let c = html[i..].chars().next().unwrap_or(' ');
            out.push(c);
            i += c.len_utf8();
        }
    }
    out.replace("&nbsp;", " ")
        .replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
}

/// Every usable e-mail of the shipped corpus (`datasets/text/spam_assassin.jsonl.gz`), in the
/// corpus' order.
pub fn load() -> Result<Vec<Email>, PromptError> {
    let path = wb_data::dataset("text/spam_assassin.jsonl.gz")?;
    let raw: Vec<RawEmail> = wb_data::read_jsonl(&path)?;
    Ok(raw
        .iter()
        .filter_map(|r| parse(&r.id, r.label, r.raw.as_bytes()))
        .collect())
}

/// The task set and the pool of examples for few-shot prompts: `per_class` spam and
/// `per_class` ham e-mails to answer, and `pool_per_class` of each to draw examples from, never
/// the same e-mail in both; drawn by a seeded shuffle.
pub fn task_set(
    emails: &[Email],
    per_class: usize,
    pool_per_class: usize,
    seed: u64,
) -> Result<(Vec<Email>, Vec<Email>), PromptError> {
    let mut tasks = Vec::new();
    let mut pool = Vec::new();
    for label in [Label::Spam, Label::Ham] {
        let of_label: Vec<&Email> = emails.iter().filter(|e| e.label == label).collect();
        if of_label.len() < per_class + pool_per_class {
            return Err(PromptError::InvalidArgument {
                arg: "per_class".into(),
                detail: format!(
                    "{per_class} + {pool_per_class} {label:?} e-mails asked for, the corpus has {} usable",
                    of_label.len()
                ),
            });
        }
        let order = wb_data::shuffled_indices(of_label.len(), seed);
        tasks.extend(order[..per_class].iter().map(|&i| of_label[i].clone()));
        pool.extend(
            order[per_class..per_class + pool_per_class]
                .iter()
                .map(|&i| of_label[i].clone()),
        );
    }
    Ok((tasks, pool))
}
