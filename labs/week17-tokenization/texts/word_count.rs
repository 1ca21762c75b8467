//! A sample of Rust for week 17's tokenizer comparison (frozen: the report counts its tokens).
//! Counts the words of a text file and prints the most frequent ones.

use std::collections::HashMap;
use std::env;
use std::fs;
use std::process::ExitCode;

/// The words of `text`, lower-cased, split on anything that is not a letter or an apostrophe.
fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !(c.is_alphabetic() || c == '\''))
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
}

/// How often each word occurs, most frequent first (ties in alphabetical order).
fn frequencies(text: &str) -> Vec<(String, usize)> {
    let mut counts: HashMap<String, usize> = HashMap::new();
    for word in words(text) {
        *counts.entry(word).or_insert(0) += 1;
    }
    let mut sorted: Vec<(String, usize)> = counts.into_iter().collect();
    sorted.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    sorted
}

fn main() -> ExitCode {
    let args: Vec<String> = env::args().collect();
    let (path, top) = match args.as_slice() {
        [_, path] => (path, 10),
        [_, path, n] => match n.parse::<usize>() {
            Ok(n) if n > 0 => (path, n),
            _ => {
                eprintln!("error: TOP must be a whole number above 0, got {n:?}");
                return ExitCode::from(2);
            }
        },
        _ => {
            eprintln!("usage: word_count FILE [TOP]");
            return ExitCode::from(2);
        }
    };
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("error: cannot read {path}: {e}");
            return ExitCode::FAILURE;
        }
    };
    for (rank, (word, count)) in frequencies(&text).iter().take(top).enumerate() {
        println!("{:>3}. {word:<20} {count:>8}", rank + 1);
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_words_case_insensitively() {
        let f = frequencies("The whale, the WHALE! A ship.");
        assert_eq!(f[0], ("the".to_string(), 2));
        assert_eq!(f[1], ("whale".to_string(), 2));
        assert_eq!(f.len(), 4);
    }
}
