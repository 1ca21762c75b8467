//! Constrained decoding: output that is valid JSON for a JSON Schema, by construction.
//!
//! At each step, every token whose text cannot continue a document valid for the schema is
//! masked out (its logit set to −∞) before sampling, as llama.cpp grammars, outlines and
//! xgrammar do. The schema is compiled to a [`Node`] tree; a [`Matcher`] follows the characters
//! generated so far as a set of parse positions (several while `anyOf` alternatives or optional
//! properties are undecided), and a token is allowed when some position survives all of its
//! characters. The output is compact JSON (no whitespace); properties come in any order, each
//! at most once, the required ones all before the object closes. Numbers have at most
//! [`MAX_DIGITS`] digits before and after the point and [`MAX_EXPONENT_DIGITS`] in the exponent.
//!
//! Supported: `type` object (properties, required, additionalProperties false implied), array
//! (items, minItems, maxItems), string (enum, const, maxLength), integer, number, boolean, null;
//! `enum`, `const`, `anyOf`/`oneOf` (as anyOf), nesting. Anything else is refused, naming the
//! keyword and where it is.

use crate::{LlmError, Result};
use serde_json::Value;

/// The most digits a number may have before its point, and after it: an f64 holds 15–17
/// significant digits, and without a limit a small model may write digits until `max_tokens`
/// (llama.cpp's schema grammars limit them likewise).
pub const MAX_DIGITS: usize = 15;
/// The most digits of an exponent (f64's range ends at 10³⁰⁸).
pub const MAX_EXPONENT_DIGITS: usize = 3;

/// A compiled schema.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Object {
        /// (name, schema, required), in the schema's order.
        properties: Vec<(String, Node, bool)>,
    },
    Array {
        items: Box<Node>,
        min: usize,
        max: Option<usize>,
    },
    String {
        max_len: Option<usize>,
    },
    Integer,
    Number,
    Boolean,
    Null,
    /// One of these exact JSON texts (enum / const), compact.
    Literal(Vec<String>),
    AnyOf(Vec<Node>),
}

fn unsupported(path: &str, detail: impl Into<String>) -> LlmError {
    LlmError::InvalidArgument {
        arg: format!("schema{path}"),
        detail: detail.into(),
    }
}

const KNOWN: [&str; 14] = [
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "minItems",
    "maxItems",
    "enum",
    "const",
    "anyOf",
    "oneOf",
    "maxLength",
    "description",
    "title",
];

impl Node {
    /// Compiles a JSON Schema; an unsupported keyword or type is an error naming it and its path.
    pub fn compile(schema: &Value) -> Result<Self> {
        Self::at(schema, "")
    }

    fn at(schema: &Value, path: &str) -> Result<Self> {
        let Value::Object(map) = schema else {
            return Err(unsupported(path, "a schema must be an object"));
        };
        for key in map.keys() {
            if !KNOWN.contains(&key.as_str()) && !key.starts_with('$') {
                return Err(unsupported(path, format!("unsupported keyword `{key}`")));
            }
        }
        if let Some(c) = map.get("const") {
            return Ok(Node::Literal(vec![c.to_string()]));
        }
        if let Some(e) = map.get("enum") {
            let Value::Array(values) = e else {
                return Err(unsupported(&format!("{path}/enum"), "must be an array"));
            };
            if values.is_empty() {
                return Err(unsupported(&format!("{path}/enum"), "is empty"));
            }
            return Ok(Node::Literal(values.iter().map(Value::to_string).collect()));
        }
        for key in ["anyOf", "oneOf"] {
            if let Some(alts) = map.get(key) {
                let Value::Array(alts) = alts else {
                    return Err(unsupported(&format!("{path}/{key}"), "must be an array"));
                };
                let nodes = alts
                    .iter()
                    .enumerate()
                    .map(|(i, a)| Self::at(a, &format!("{path}/{key}/{i}")))
                    .collect::<Result<Vec<_>>>()?;
                return Ok(Node::AnyOf(nodes));
            }
        }
        let ty = map
            .get("type")
            .and_then(Value::as_str)
            .ok_or_else(|| unsupported(path, "needs a `type` (or enum, const, anyOf)"))?;
        let count = |key: &str| map.get(key).and_then(Value::as_u64).map(|v| v as usize);
        match ty {
            "object" => {
                if map
                    .get("additionalProperties")
                    .is_some_and(|v| v != &Value::Bool(false))
                {
                    return Err(unsupported(
                        &format!("{path}/additionalProperties"),
                        "only `false` is supported (the output has exactly the listed properties)",
                    ));
                }
                let required: Vec<&str> = map
                    .get("required")
                    .and_then(Value::as_array)
                    .map(|r| r.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                let props = match map.get("properties") {
                    Some(Value::Object(p)) => p,
                    None => {
                        return Ok(Node::Object {
                            properties: Vec::new(),
                        });
                    }
                    Some(_) => {
                        return Err(unsupported(
                            &format!("{path}/properties"),
                            "must be an object",
                        ));
                    }
                };
                if let Some(missing) = required.iter().find(|r| !props.contains_key(**r)) {
                    return Err(unsupported(
                        &format!("{path}/required"),
                        format!("`{missing}` is required but not among the properties"),
                    ));
                }
                let properties = props
                    .iter()
                    .map(|(name, s)| {
                        Ok((
                            name.clone(),
                            Self::at(s, &format!("{path}/properties/{name}"))?,
                            required.contains(&name.as_str()),
                        ))
                    })
                    .collect::<Result<Vec<_>>>()?;
                Ok(Node::Object { properties })
            }
            "array" => {
                let items = match map.get("items") {
                    Some(s) => Self::at(s, &format!("{path}/items"))?,
                    None => return Err(unsupported(path, "an array needs `items`")),
                };
                Ok(Node::Array {
                    items: Box::new(items),
                    min: count("minItems").unwrap_or(0),
                    max: count("maxItems"),
                })
            }
            "string" => Ok(Node::String {
                max_len: count("maxLength"),
            }),
            "integer" => Ok(Node::Integer),
            "number" => Ok(Node::Number),
            "boolean" => Ok(Node::Boolean),
            "null" => Ok(Node::Null),
            other => Err(unsupported(
                &format!("{path}/type"),
                format!("unsupported type `{other}`"),
            )),
        }
    }
}

/// Where a parse stands inside one value.
#[derive(Debug, Clone, PartialEq)]
enum Frame {
    /// A value of this node is to start.
    Start(Node),
    /// Inside a string: characters so far, whether a backslash was just read, hex digits left of
    /// a \u escape.
    Str {
        max_len: Option<usize>,
        len: usize,
        escape: bool,
        hex: u8,
    },
    /// Inside a number: the grammar state, and the digits of the part being written.
    Num {
        integer: bool,
        state: NumState,
        digits: usize,
    },
    /// Inside one of several literal texts: the candidates and how many bytes matched.
    Lit { texts: Vec<String>, at: usize },
    /// Inside an object: the properties, which were written, the one being written, the position.
    Obj {
        properties: Vec<(String, Node, bool)>,
        written: Vec<bool>,
        current: usize,
        at: ObjAt,
    },
    /// Inside an array.
    Arr {
        items: Node,
        count: usize,
        min: usize,
        max: Option<usize>,
        after_value: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum NumState {
    Sign,
    Zero,
    Int,
    Dot,
    Frac,
    E,
    ESign,
    Exp,
}

impl NumState {
    /// Whether a number may end here.
    fn complete(self) -> bool {
        matches!(
            self,
            NumState::Zero | NumState::Int | NumState::Frac | NumState::Exp
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum ObjAt {
    /// After `{` or `,`: a key (or `}` right after `{` when nothing is required) comes.
    Key,
    /// Writing the key `"name":` of property `next` (bytes matched).
    KeyText(usize),
    /// After a value: `,` or `}`.
    AfterValue,
}

/// What a frame does with a character.
enum Step {
    /// Consumed; the frame continues as this, or its value is complete (`None`).
    Next(Option<Frame>),
    /// The frame continues as the first, but a child value of the node comes first; `refeed`:
    /// the character itself starts the child (an array item), else it was consumed (a key).
    Push(Frame, Node, bool),
    /// The frame's value ended just before this character: the parent reads it.
    Ended,
}

fn key_text(name: &str) -> String {
    format!("{}:", Value::String(name.to_string()))
}

impl Frame {
    fn step(&self, c: char, out: &mut Vec<Step>) {
        match self {
            Frame::Start(node) => match node {
                Node::AnyOf(alts) => {
                    for a in alts {
                        Frame::Start(a.clone()).step(c, out);
                    }
                }
                Node::Literal(texts) => Frame::Lit {
                    texts: texts.clone(),
                    at: 0,
                }
                .step(c, out),
                Node::Null => Frame::Lit {
                    texts: vec!["null".into()],
                    at: 0,
                }
                .step(c, out),
                Node::Boolean => Frame::Lit {
                    texts: vec!["true".into(), "false".into()],
                    at: 0,
                }
                .step(c, out),
                Node::String { max_len } => {
                    if c == '"' {
                        let s = Frame::Str {
                            max_len: *max_len,
                            len: 0,
                            escape: false,
                            hex: 0,
                        };
                        out.push(Step::Next(Some(s)));
                    }
                }
                Node::Integer | Node::Number => {
                    let state = match c {
                        '-' => NumState::Sign,
                        '0' => NumState::Zero,
                        '1'..='9' => NumState::Int,
                        _ => return,
                    };
                    let integer = *node == Node::Integer;
                    let digits = usize::from(c != '-');
                    out.push(Step::Next(Some(Frame::Num {
                        integer,
                        state,
                        digits,
                    })));
                }
                Node::Object { properties } => {
                    if c == '{' {
                        let o = Frame::Obj {
                            properties: properties.clone(),
                            written: vec![false; properties.len()],
                            current: 0,
                            at: ObjAt::Key,
                        };
                        out.push(Step::Next(Some(o)));
                    }
                }
                Node::Array { items, min, max } => {
                    if c == '[' {
                        let a = Frame::Arr {
                            items: (**items).clone(),
                            count: 0,
                            min: *min,
                            max: *max,
                            after_value: false,
                        };
                        out.push(Step::Next(Some(a)));
                    }
                }
            },
            Frame::Str {
                max_len,
                len,
                escape,
                hex,
            } => {
                let (max_len, len) = (*max_len, *len);
                let s = |len, escape, hex| {
                    Step::Next(Some(Frame::Str {
                        max_len,
                        len,
                        escape,
                        hex,
                    }))
                };
                if *hex > 0 {
                    if c.is_ascii_hexdigit() {
                        out.push(s(len, false, hex - 1));
                    }
                } else if *escape {
                    match c {
                        '"' | '\\' | '/' | 'b' | 'f' | 'n' | 'r' | 't' => {
                            out.push(s(len + 1, false, 0))
                        }
                        'u' => out.push(s(len + 1, false, 4)),
                        _ => {}
                    }
                } else if c == '"' {
                    out.push(Step::Next(None));
                } else if max_len.is_some_and(|m| len >= m) || (c as u32) < 0x20 {
                    // Too long, or a control character (JSON requires it escaped).
                } else if c == '\\' {
                    out.push(s(len, true, 0));
                } else {
                    out.push(s(len + 1, false, 0));
                }
            }
            Frame::Num {
                integer,
                state,
                digits,
            } => {
                use NumState::*;
                let room = |max: usize| *digits < max;
                let next = match (state, c) {
                    (Sign, '0') => Some(Zero),
                    (Sign, '1'..='9') => Some(Int),
                    (Int, '0'..='9') if room(MAX_DIGITS) => Some(Int),
                    (Zero | Int, '.') if !integer => Some(Dot),
                    (Dot, '0'..='9') => Some(Frac),
                    (Frac, '0'..='9') if room(MAX_DIGITS) => Some(Frac),
                    (Zero | Int | Frac, 'e' | 'E') if !integer => Some(E),
                    (E, '+' | '-') => Some(ESign),
                    (E | ESign, '0'..='9') => Some(Exp),
                    (Exp, '0'..='9') if room(MAX_EXPONENT_DIGITS) => Some(Exp),
                    _ => None,
                };
                match next {
                    Some(s) => out.push(Step::Next(Some(Frame::Num {
                        integer: *integer,
                        state: s,
                        // Digits of the part being written: a new part starts at 0.
                        digits: match (state, s) {
                            (_, Dot | E | ESign) => 0,
                            _ if c.is_ascii_digit() => digits + 1,
                            _ => *digits,
                        },
                    }))),
                    None if state.complete() => out.push(Step::Ended),
                    None => {}
                }
            }
            Frame::Lit { texts, at } => {
                // A text complete here may end (the parent reads c); longer ones may continue.
                if texts.iter().any(|t| t.len() == *at) {
                    out.push(Step::Ended);
                }
                let longer: Vec<String> = texts
                    .iter()
                    .filter(|t| t.len() > *at && t[*at..].starts_with(c))
                    .cloned()
                    .collect();
                if !longer.is_empty() {
                    let at = at + c.len_utf8();
                    // A text that only this character completes, and no longer one: done now.
                    if longer.iter().all(|t| t.len() == at) {
                        out.push(Step::Next(None));
                    } else {
                        out.push(Step::Next(Some(Frame::Lit { texts: longer, at })));
                    }
                }
            }
            Frame::Obj {
                properties,
                written,
                current,
                at,
            } => {
                let obj = |written: Vec<bool>, current: usize, at: ObjAt| Frame::Obj {
                    properties: properties.clone(),
                    written,
                    current,
                    at,
                };
                // JSON objects are unordered: any property not written yet may come next.
                let done = properties.iter().zip(written).all(|(p, w)| *w || !p.2);
                let any = written.iter().any(|w| *w);
                match at {
                    ObjAt::Key => {
                        for (i, (name, _, _)) in properties.iter().enumerate() {
                            if !written[i] && key_text(name).starts_with(c) {
                                let at = ObjAt::KeyText(c.len_utf8());
                                out.push(Step::Next(Some(obj(written.clone(), i, at))));
                            }
                        }
                        if c == '}' && !any && done {
                            out.push(Step::Next(None));
                        }
                    }
                    ObjAt::KeyText(k) => {
                        let text = key_text(&properties[*current].0);
                        if text[*k..].starts_with(c) {
                            let k = k + c.len_utf8();
                            if k == text.len() {
                                let mut w = written.clone();
                                w[*current] = true;
                                let parent = obj(w, *current, ObjAt::AfterValue);
                                out.push(Step::Push(parent, properties[*current].1.clone(), false));
                            } else {
                                let at = ObjAt::KeyText(k);
                                out.push(Step::Next(Some(obj(written.clone(), *current, at))));
                            }
                        }
                    }
                    ObjAt::AfterValue => {
                        if c == '}' && done {
                            out.push(Step::Next(None));
                        }
                        if c == ',' && written.iter().any(|w| !*w) {
                            out.push(Step::Next(Some(obj(written.clone(), *current, ObjAt::Key))));
                        }
                    }
                }
            }
            Frame::Arr {
                items,
                count,
                min,
                max,
                after_value,
            } => {
                let arr = |count: usize, after_value: bool| Frame::Arr {
                    items: items.clone(),
                    count,
                    min: *min,
                    max: *max,
                    after_value,
                };
                let room = max.is_none_or(|m| *count < m);
                if c == ']' && *count >= *min && (*after_value || *count == 0) {
                    out.push(Step::Next(None));
                }
                if *after_value {
                    if c == ',' && room {
                        out.push(Step::Next(Some(arr(*count, false))));
                    }
                } else if room && !(c == ']' && *count == 0) {
                    // An item starts with this very character.
                    out.push(Step::Push(arr(count + 1, true), items.clone(), true));
                }
            }
        }
    }
}

type Stack = Vec<Frame>;

/// Every stack `stack` can become by reading `c`.
fn feed(stack: &Stack, c: char, out: &mut Vec<Stack>) {
    let Some(top) = stack.last() else {
        return; // the document is complete: nothing may follow
    };
    let mut steps = Vec::new();
    top.step(c, &mut steps);
    for s in steps {
        let mut st = stack[..stack.len() - 1].to_vec();
        match s {
            Step::Next(Some(f)) => {
                st.push(f);
                out.push(st);
            }
            Step::Next(None) => out.push(st),
            Step::Push(parent, child, refeed) => {
                st.push(parent);
                st.push(Frame::Start(child));
                if refeed {
                    feed(&st, c, out);
                } else {
                    out.push(st);
                }
            }
            Step::Ended => feed(&st, c, out),
        }
    }
}

/// Whether the document may end with this stack: nothing open, or only a number or literal that
/// is complete at the top level.
fn can_end(stack: &Stack) -> bool {
    match stack.as_slice() {
        [] => true,
        [Frame::Num { state, .. }] => state.complete(),
        [Frame::Lit { texts, at }] => texts.iter().any(|t| t.len() == *at),
        _ => false,
    }
}

/// The parse positions of the text generated so far against a schema.
#[derive(Debug, Clone)]
pub struct Matcher {
    stacks: Vec<Stack>,
}

impl Matcher {
    /// A matcher at the start of a document for `schema`.
    pub fn new(schema: &Node) -> Self {
        Self {
            stacks: vec![vec![Frame::Start(schema.clone())]],
        }
    }

    /// Whether `text` is a complete document valid for `schema`.
    pub fn accepts(schema: &Node, text: &str) -> bool {
        Matcher::new(schema)
            .after(text)
            .is_some_and(|m| m.can_end())
    }

    /// The positions after `text`, or `None` when no valid document starts so.
    pub fn after(&self, text: &str) -> Option<Matcher> {
        let mut m = self.clone();
        for c in text.chars() {
            m = m.after_char(c)?;
        }
        Some(m)
    }

    /// The positions after one more character.
    fn after_char(&self, c: char) -> Option<Matcher> {
        let mut next = Vec::new();
        for s in &self.stacks {
            feed(s, c, &mut next);
        }
        next.dedup();
        (!next.is_empty()).then_some(Matcher { stacks: next })
    }

    /// Reads `text`; false (and no change) when it cannot continue a valid document.
    pub fn advance(&mut self, text: &str) -> bool {
        match self.after(text) {
            Some(m) => {
                *self = m;
                true
            }
            None => false,
        }
    }

    /// Whether the text so far is a complete valid document.
    pub fn can_end(&self) -> bool {
        self.stacks.iter().any(can_end)
    }

    /// Whether the text so far has nothing more to add (every position complete and closed).
    pub fn must_end(&self) -> bool {
        self.stacks.iter().all(Vec::is_empty)
    }
}

/// The vocabulary as a prefix tree of the tokens' texts: a mask is then one walk down the tree,
/// each shared prefix matched once, and a whole subtree skipped at the first character no valid
/// document allows (after `{`, only the tokens that start with `"` or `}` are looked at).
#[derive(Debug, Clone, Default)]
pub struct TokenTrie {
    nodes: Vec<TrieNode>,
}

#[derive(Debug, Clone, Default)]
struct TrieNode {
    children: Vec<(char, u32)>,
    /// The tokens whose text ends here.
    tokens: Vec<u32>,
}

impl TokenTrie {
    /// The tree of `texts[id]` for every token that has one (`None`: never allowed).
    pub fn new(texts: &[Option<String>]) -> Self {
        let mut nodes = vec![TrieNode::default()];
        let mut index: std::collections::HashMap<(u32, char), u32> = Default::default();
        for (id, text) in texts.iter().enumerate() {
            let Some(text) = text else { continue };
            let mut at = 0u32;
            for c in text.chars() {
                at = *index.entry((at, c)).or_insert_with(|| {
                    nodes.push(TrieNode::default());
                    let child = (nodes.len() - 1) as u32;
                    nodes[at as usize].children.push((c, child));
                    child
                });
            }
            nodes[at as usize].tokens.push(id as u32);
        }
        Self { nodes }
    }

    // ANCHOR: allowed
    /// Marks `allowed[id]` for every token whose whole text can continue a valid document from
    /// `matcher`; returns how many.
    pub fn allowed(&self, matcher: &Matcher, allowed: &mut [bool]) -> usize {
        let mut count = 0;
        let mut stack = vec![(0u32, matcher.clone())];
        while let Some((node, m)) = stack.pop() {
            for &(c, child) in &self.nodes[node as usize].children {
                if let Some(next) = m.after_char(c) {
                    for &t in &self.nodes[child as usize].tokens {
                        allowed[t as usize] = true;
                        count += 1;
                    }
                    stack.push((child, next));
                }
            }
        }
        count
    }
    // ANCHOR_END: allowed
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn accepts(schema: &Value, text: &str) -> bool {
        Matcher::accepts(&Node::compile(schema).unwrap(), text)
    }

    #[test]
    fn objects_follow_the_schema() {
        let s = json!({"type": "object", "properties": {
            "name": {"type": "string"}, "age": {"type": "integer"}, "tags": {"type": "array", "items": {"type": "string"}}
        }, "required": ["name"]});
        assert!(accepts(&s, r#"{"name":"Ann","age":31,"tags":["a","b"]}"#));
        assert!(accepts(&s, r#"{"name":"Ann"}"#));
        assert!(accepts(&s, r#"{"name":"Ann","tags":[]}"#));
        assert!(
            !accepts(&s, r#"{"age":31}"#),
            "a required property is missing"
        );
        assert!(!accepts(&s, r#"{"name":"Ann","age":3.5}"#), "an integer");
        assert!(!accepts(&s, r#"{"name":"Ann","extra":1}"#));
        assert!(!accepts(&s, r#"{"name":"Ann""#), "incomplete");
    }

    #[test]
    fn scalars_enums_consts_and_any_of() {
        assert!(accepts(&json!({"type": "number"}), "-12.5e+3"));
        assert!(!accepts(&json!({"type": "number"}), "01"));
        assert!(accepts(&json!({"type": "boolean"}), "false"));
        assert!(accepts(&json!({"enum": ["red", "green", 1, 12]}), "12"));
        assert!(accepts(&json!({"enum": ["red", "green", 1, 12]}), "1"));
        assert!(!accepts(&json!({"enum": ["red", "green"]}), r#""blue""#));
        assert!(accepts(&json!({"const": "x"}), r#""x""#));
        let tools = json!({"anyOf": [
            {"type": "object", "properties": {"tool": {"const": "weather"}, "city": {"type": "string"}}, "required": ["tool", "city"]},
            {"type": "object", "properties": {"tool": {"const": "add"}, "a": {"type": "number"}, "b": {"type": "number"}}, "required": ["tool", "a", "b"]}
        ]});
        assert!(accepts(&tools, r#"{"tool":"weather","city":"Paris"}"#));
        assert!(accepts(&tools, r#"{"tool":"add","a":1,"b":2.5}"#));
        assert!(!accepts(&tools, r#"{"tool":"add","city":"Paris"}"#));
        assert!(accepts(
            &json!({"type": "string", "maxLength": 3}),
            r#""a\"b""#
        ));
        assert!(!accepts(
            &json!({"type": "string", "maxLength": 3}),
            r#""abcd""#
        ));
        assert!(accepts(
            &json!({"type": "array", "items": {"type": "integer"}, "minItems": 1, "maxItems": 2}),
            "[1,2]"
        ));
        assert!(!accepts(
            &json!({"type": "array", "items": {"type": "integer"}, "minItems": 1}),
            "[]"
        ));
        assert!(!accepts(
            &json!({"type": "array", "items": {"type": "integer"}, "maxItems": 2}),
            "[1,2,3]"
        ));
    }

    #[test]
    fn numbers_have_at_most_fifteen_digits_per_part() {
        let n = json!({"type": "number"});
        let i = json!({"type": "integer"});
        assert!(accepts(&n, "-123456789012345.123456789012345e-308"));
        assert!(
            !accepts(&n, "1234567890123456"),
            "16 digits before the point"
        );
        assert!(!accepts(&n, "0.1234567890123456"), "16 after it");
        assert!(!accepts(&n, "1e1234"), "a 4-digit exponent");
        assert!(accepts(&i, "-999999999999999"));
        assert!(!accepts(&i, "1000000000000000"));
    }

    #[test]
    fn the_prefix_tree_allows_exactly_the_tokens_a_match_allows() {
        let texts: Vec<Option<String>> = [
            "{", "{\"", "\"", "\"name", "name", "\":", "\":\"", "A", "Ann", "\"}", "}", "1", "12",
            "x",
        ]
        .iter()
        .map(|t| Some(t.to_string()))
        .chain([None])
        .collect();
        let trie = TokenTrie::new(&texts);
        let s = json!({"type": "object", "properties": {"name": {"type": "string"}, "n": {"type": "integer"}}, "required": ["name"]});
        let node = Node::compile(&s).unwrap();
        for prefix in [
            "",
            "{",
            "{\"",
            "{\"name\":\"A",
            "{\"n\":1",
            "{\"name\":\"A\"",
        ] {
            let m = Matcher::new(&node).after(prefix).unwrap();
            let mut allowed = vec![false; texts.len()];
            let count = trie.allowed(&m, &mut allowed);
            let expected: Vec<bool> = texts
                .iter()
                .map(|t| t.as_deref().is_some_and(|t| m.after(t).is_some()))
                .collect();
            assert_eq!(allowed, expected, "after {prefix:?}");
            assert_eq!(count, expected.iter().filter(|&&a| a).count());
        }
    }

    #[test]
    fn unsupported_schemas_are_refused_naming_the_keyword() {
        let e = Node::compile(&json!({"type": "string", "pattern": "^a"}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("pattern"), "{e}");
        let e = Node::compile(&json!({"type": "object", "properties": {"x": {"type": "date"}}}))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("/properties/x/type") && e.contains("date"),
            "{e}"
        );
    }
}
