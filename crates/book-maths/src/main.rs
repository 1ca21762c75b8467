//! `book-maths`: the book's mdBook preprocessor (see the library's docs). mdBook first asks
//! `book-maths supports <renderer>`, then pipes `[context, book]` through it.

use std::io::Read;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        // Escaped Markdown renders the same for every renderer.
        Some("supports") => return ExitCode::SUCCESS,
        // `book-maths check book/src book/build`: every maths span reached its page intact.
        Some("check") if args.len() == 3 => {
            return match book_maths::check_book(args[1].as_ref(), args[2].as_ref()) {
                Ok(problems) if problems.is_empty() => {
                    println!("book-maths: every maths span reached its page as written");
                    ExitCode::SUCCESS
                }
                Ok(problems) => {
                    for p in &problems {
                        eprintln!("{p}");
                    }
                    eprintln!("book-maths: {} maths span(s) damaged", problems.len());
                    ExitCode::FAILURE
                }
                Err(e) => {
                    eprintln!("book-maths: {e:#}");
                    ExitCode::FAILURE
                }
            };
        }
        _ => {}
    }
    let mut input = String::new();
    let outcome = std::io::stdin()
        .read_to_string(&mut input)
        .map_err(anyhow::Error::from)
        .and_then(|_| book_maths::preprocess(&input));
    match outcome {
        Ok(book) => {
            print!("{book}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("book-maths: {e:#}");
            ExitCode::FAILURE
        }
    }
}
