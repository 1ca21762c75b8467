//! Every lab binary runs end to end, exits 0, prints the report the book shows and writes one
//! JSON object with `--json-out`.

mod common;
use common::*;
use std::path::Path;

/// Replaces timings and rates (`12.3 ms`, `9500 requests/s`, `85.2 GFLOP/s`) by `…`: the only
/// parts of a report that vary between runs. The padding before a right-aligned number goes
/// too, since its width depends on the number.
fn without_timings(report: &str) -> String {
    let mut out = String::new();
    for line in report.lines() {
        let words: Vec<&str> = line.split(' ').collect();
        let mut kept = Vec::new();
        for (i, w) in words.iter().enumerate() {
            let next_is_ms = words.get(i + 1).is_some_and(|n| {
                n.starts_with("ms") || n.starts_with("requests/s") || n.starts_with("GFLOP/s")
            });
            let numeric = w.trim_start_matches('(').parse::<f64>().is_ok();
            if next_is_ms && numeric {
                // Right-aligned numbers carry padding whose width depends on the number.
                while kept.last() == Some(&"") {
                    kept.pop();
                }
                kept.push(if w.starts_with('(') { "(…" } else { "…" });
            } else {
                kept.push(w);
            }
        }
        out.push_str(&kept.join(" "));
        out.push('\n');
    }
    out
}

/// Report lines whose numbers depend on the CPU that trains the model, by lab: candle's matrix
/// products sum in blocks sized to the CPU's caches, so another CPU rounds differently in the last
/// bit, and hundreds of training steps carry that into accuracies, epochs and rankings (the same
/// CPU gives the same numbers every run). A line of the book's report that holds one of these is
/// compared by its place only; every other line exactly (timings masked).
const CPU_DEPENDENT: &[(&str, &[&str])] = &[
    (
        "week11-cnn",
        &[
            "test accuracy",
            "most frequent error",
            "without augmentation",
        ],
    ),
    (
        // Timings and load measurements (answered/s, rows/s, MiB), and what depends on the last
        // bits of the trained weights (the model file's hash, the losses).
        "week15-serving-patterns",
        &[
            "answered/s",
            "rows/s",
            "MiB",
            "SHA-256",
            "model_sha256",
            "log-loss",
            "training loss",
        ],
    ),
    (
        // The trained weights (accuracy, hash, answers' probabilities) and how the load fell
        // into batches.
        "week16-deploy-dl",
        &[
            "test accuracy",
            "SHA-256",
            "correct (",
            "mean batch",
            "probabilities",
            "inference_batch_size_count",
            "batches)",
        ],
    ),
    (
        // Encoding speed and the time a whole answer takes (in seconds).
        "week17-tokenization",
        &["MB/s here", "the whole answer after"],
    ),
    (
        // What the model answers: its logits are sums whose order the CPU's vector width sets.
        "week18-prompting",
        &[
            " %",
            "constrained, ",
            "identical to the in-process",
            "share the task's label",
        ],
    ),
    (
        // Build times and queries per second (in seconds and per second: not masked), whether the
        // embeddings came from the cache, instant-distance's graph (built on every core: its
        // recall varies a little), and the shard processes' ids.
        "week19-embeddings-search",
        &[
            "(384-d, unit length)",
            " s to build",
            "nprobe ",
            " ef ",
            "flat      ",
            "pids",
            "queries/s in one batch",
        ],
    ),
    (
        // Build and search speeds and embedding times (in seconds and per second: not masked),
        // and what SmolLM2 judges (its logits are sums whose order the CPU's vector width sets).
        "week20-rag-retrieval",
        &[
            "queries/s",
            " sentences embedded",
            "as the judge",
            "SmolLM2 rerank",
        ],
    ),
    (
        // Ingestion time (seconds: not masked), the search latency columns of the retrieval
        // table, and everything SmolLM2 writes (its logits are sums whose order the CPU's vector
        // width sets): the answers, the measures of their citations, their length.
        "week21-rag-service",
        &[
            "added, ",
            "BM25 (SQLite FTS5)  ",
            "dense (MiniLM, exact)  ",
            "hybrid (RRF)  ",
            "hybrid + rerank  ",
            "the model cites",
            "with a source",
            "source precision",
            "right source",
            "nothing supports",
            "citations hold",
            "groundedness",
            "streams whole",
            "tokens per answer",
            "   A: ",
            "cited by the model",
            "obeyed",
        ],
    ),
    (
        // Everything timed on loopback: stream timings, the fault table's latencies (and, at the
        // higher rates, what the deadline and the breaker decide in time), the outage (which
        // requests fall inside it), how fast generation stops, the scan rate; and what SmolLM2
        // writes (its logits are sums whose order the CPU's vector width sets).
        "week22-streaming-reliability",
        &[
            "text events, ids in order",
            "  → ",
            "no retries",
            "4 attempts at once",
            "4 attempts, backoff",
            "backoff + budget + breaker",
            "breaker: ",
            "stopped generating",
            "personal data  ",
            "length  ",
            "schema  ",
            "scanned ",
        ],
    ),
    (
        // What SmolLM2 judges and learns (its logits are sums whose order the CPU's vector width
        // sets, and training carries the last bit on), the memory columns, and the merged
        // model's largest difference from the unmerged one (a rounding difference).
        "week23-finetuning",
        &[
            "zero-shot   ",
            "few-shot (",
            "LoRA    ",
            "full fine-tune   ",
            "merged vs unmerged",
        ],
    ),
    (
        // What SmolLM2 writes and how long its answers are (its logits are sums whose order the
        // CPU's vector width sets), hence what they cost; the limiter's decisions per second.
        "week24-llm-app",
        &[
            "  A: ",
            "     prompt ",
            "charged",
            "the rows' costs",
            "alice's /v1/usage",
            "decisions/s",
            "paired difference",
        ],
    ),
    (
        // The killed writers (when each kill lands decides how many runs finish, and whether a
        // blob was being written) and the logging speed.
        "week26-tracking-registry",
        &[
            "runs reported finished",
            "temporary blobs left by the kills",
            "Logging speed",
        ],
    ),
    (
        // MiniLM's embeddings and SmolLM2's answers (sums whose order the CPU's vector width
        // sets), the service's times, and every figure that follows from them.
        "week27-llm-monitoring",
        &[
            "MiniLM embeddings in",
            "share 0 is the false-alarm rate",
            // The rows of the drift table: MMD's permutation p-values compare sums of kernels.
            ".0 %  ",
            "semantic flag below",
            "flagged by kind: grounded",
            "metered by the middleware",
            "requests ok",
            "tokens prompt",
            "latency p50",
            "time to first token",
            "exact match",
            "weakest:",
            "with the context:",
            "flagging 'no context'",
            "e.g. with context",
            "without:      ",
        ],
    ),
    (
        // The rollouts over loopback HTTP (how many requests arrive before each verdict, and
        // their latencies) and the times.
        "week28-cicd-canary",
        &[
            "ms for the pipeline",
            "simulated in",
            "promoted to 100 % after",
            "ROLLED BACK to",
            "    at ",
        ],
    ),
    (
        // The service's load on loopback, polled every 20 ms.
        "week29-containers-k8s",
        &["  ready after"],
    ),
    (
        // One replica simulated with week 15's network's times, measured in the run.
        "week30-autoscaling-gpu",
        &["× batch-1 capacity"],
    ),
    (
        // Times, and what SmolLM2 answers (its logits are sums whose order the CPU's vector
        // width sets): its accuracy, the cascade, the routes, the fallbacks' answers, the bill.
        "week31-cost-routing",
        &[
            "a miss: SmolLM2 answers in",
            "ms per question",
            "naive Bayes (trained on",
            "SmolLM2 (two examples",
            "arithmetic: SmolLM2 right on",
            "; SmolLM2: \"",
            "$0.",
            "refused — ",
            "answered by: ",
        ],
    ),
    (
        // What contention decides (how many answers the old version gave before the rollback,
        // whether a p99 stayed inside the SLO), the registry's random run ids, the trained
        // model's bits (its artifact's hash, its losses: sums whose order the CPU sets), and what
        // SmolLM2 writes (its logits are sums whose order the CPU's vector width sets).
        "week32-production-system",
        &[
            "served by version: ",
            "SLO (p99 within",
            "- run: `",
            "SHA-256 `",
            "- valid_",
            "P(malignant) = ",
            "chat smollm2-135m-instruct (",
            "SmolLM2's answer: ",
        ],
    ),
    (
        "week14-training-loops",
        &[
            "validation accuracy per epoch",
            "% on 2,000 images",
            "stopped at step",
            "   lr-",
        ],
    ),
];

/// `report` with each line of `book` that holds a CPU-dependent marker of `package` replaced,
/// on both sides, by `(varies by CPU)`.
fn without_cpu_dependent(package: &str, book: &str, report: &str) -> (String, String) {
    let markers = CPU_DEPENDENT
        .iter()
        .find(|(p, _)| *p == package)
        .map_or(&[][..], |(_, m)| *m);
    let varies = |line: &str| markers.iter().any(|m| line.contains(m));
    let (book_lines, report_lines): (Vec<&str>, Vec<&str>) =
        (book.lines().collect(), report.lines().collect());
    let mut b = String::new();
    let mut r = String::new();
    for (i, line) in book_lines.iter().enumerate() {
        let other = report_lines.get(i).copied().unwrap_or("(missing)");
        let (x, y) = if varies(line) && varies(other) {
            ("(varies by CPU)", "(varies by CPU)")
        } else {
            (*line, other)
        };
        b.push_str(x);
        b.push('\n');
        r.push_str(y);
        r.push('\n');
    }
    for line in report_lines.iter().skip(book_lines.len()) {
        r.push_str(line);
        r.push('\n');
    }
    (b, r)
}

#[test]
fn cpu_dependent_lines_are_compared_by_place_only() {
    let book = "a 1\ntest accuracy 97.90%\nend\n";
    let (b, r) = without_cpu_dependent("week11-cnn", book, "a 1\ntest accuracy 97.95%\nend\n");
    assert_eq!(b, r);
    let (b, r) = without_cpu_dependent("week11-cnn", book, "a 2\ntest accuracy 97.95%\nend\n");
    assert_ne!(b, r, "other lines stay exact");
    let (b, r) = without_cpu_dependent("week11-cnn", book, "a 1\nsomething else\nend\n");
    assert_ne!(b, r, "a varying line must still be the same kind of line");
    let (b, r) = without_cpu_dependent("week02-linreg", book, "a 1\ntest accuracy 97.95%\nend\n");
    assert_ne!(b, r, "only the listed labs vary");
    let (b, r) =
        without_cpu_dependent("week11-cnn", book, "a 1\ntest accuracy 97.95%\nend\nmore\n");
    assert_ne!(b, r, "extra lines are kept");
}

/// One run per lab (they train models: running each twice doubled CI's time): the report it
/// prints is the one the book shows, and the JSON it writes with `--json-out` parses, names the
/// lab, carries timings and lists plots that exist. (`--json` prints the same object instead of
/// the report: week 2's test below reads it from stdout.)
/// How many labs run at once in the report test: one per core, at most 4. Most labs are either
/// single-threaded or wait on loopback sockets and timers for part of their run, so two at a time
/// keep two cores busier than one after the other (the saving is not yet measured on an idle
/// machine); what contention changes (timings, what a timeout decides) is masked or marked
/// CPU-dependent above.
/// `WB_LABS_AT_ONCE` overrides it (1: one after the other).
fn labs_at_once() -> usize {
    std::env::var("WB_LABS_AT_ONCE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .min(4)
        })
        .max(1)
}

#[test]
fn every_lab_prints_the_books_report_and_writes_its_json() {
    let dir = std::env::temp_dir().join(format!("e2e-json-{}", std::process::id()));
    // In week order: weeks 20 and 21 reuse the MiniLM vectors week 19 caches; run before it on
    // a cold cache, they would embed the corpus themselves (week 21: about 12 min instead of 4½).
    // `WB_LABS=week24-llm-app,…` runs only those (a contributor's quick check of one report).
    let only: Option<Vec<String>> = std::env::var("WB_LABS")
        .ok()
        .map(|v| v.split(',').map(|s| s.trim().to_string()).collect());
    let chosen: Vec<_> = labs()
        .into_iter()
        .filter(|l| only.as_ref().is_none_or(|o| o.contains(&package(l))))
        .collect();
    // A lab named in WB_LABS, or every lab with WB_LABS_ALL=1, runs even when its inputs have not
    // moved since the book's report was made.
    let run_all = only.is_some() || std::env::var_os("WB_LABS_ALL").is_some_and(|v| v == "1");
    let queue = std::sync::Mutex::new(chosen.into_iter());
    let failed = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..labs_at_once() {
            s.spawn(|| {
                loop {
                    let Some(lab) = queue.lock().expect("queue").next() else {
                        break;
                    };
                    let pkg = package(&lab);
                    let started = std::time::Instant::now();
                    // A failed lab is reported and the others still run: one CI run names every
                    // lab whose report moved.
                    let outcome = std::panic::catch_unwind(|| {
                        prints_the_books_report_and_writes_its_json(&pkg, &dir, run_all)
                    });
                    eprintln!(
                        "{pkg}: {} in {:.0} s",
                        match &outcome {
                            Ok(Ran::Compared) => "ok",
                            Ok(Ran::InputsUnchanged) =>
                                "ok, not run again (its inputs are those that made the book's report)",
                            Err(_) => "FAILED",
                        },
                        started.elapsed().as_secs_f64()
                    );
                    if outcome.is_err() {
                        failed.lock().expect("failed").push(pkg);
                    }
                }
            });
        }
    });
    let _ = std::fs::remove_dir_all(&dir);
    let failed = failed.into_inner().expect("failed");
    assert!(
        failed.is_empty(),
        "these labs' reports failed: {failed:?} (messages above)"
    );
}

/// What the report test did with a lab.
enum Ran {
    /// Ran it and compared its report and JSON with the book's.
    Compared,
    /// Its inputs have the fingerprint saved with the book's report: the same program on the same
    /// data, so not run again.
    InputsUnchanged,
}

fn prints_the_books_report_and_writes_its_json(pkg: &str, dir: &Path, run_all: bool) -> Ran {
    // The chapter is book/src/phase<P>/<package>.md; its expected output sits beside it, with the
    // fingerprint of the inputs that printed it (scripts/book-assets.sh writes both).
    let expected_file = std::fs::read_dir(root().join("book/src"))
        .expect("book/src")
        .map(|e| e.expect("entry").path().join(format!("{pkg}-output.txt")))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{pkg}: no book/src/phase*/{pkg}-output.txt"));
    let record_file = expected_file.with_extension("sources");
    let saved = std::fs::read_to_string(&record_file).unwrap_or_default();
    let now = e2e::lab_inputs_hash(&root(), pkg).unwrap_or_else(|e| panic!("{pkg}: {e}"));
    if !run_all && e2e::saved_hash(&saved) == Some(now.as_str()) {
        return Ran::InputsUnchanged;
    }
    let expected = std::fs::read_to_string(&expected_file)
        .unwrap_or_else(|e| panic!("{pkg}: {} ({e})", expected_file.display()));
    let json_file = dir.join(format!("{pkg}.json"));
    let out = lab_run(pkg, &["--json-out", &json_file.display().to_string()], None);
    assert!(out.status.success(), "{pkg} failed:\n{}", text(&out.stderr));
    let (book, report) = without_cpu_dependent(
        pkg,
        &without_timings(&expected),
        &without_timings(&text(&out.stdout)),
    );
    assert_eq!(
        report,
        book,
        "{pkg}: the report differs from {}; regenerate it with `just book-assets {pkg}`",
        expected_file.display()
    );
    let json = std::fs::read(&json_file)
        .unwrap_or_else(|e| panic!("{pkg}: --json-out wrote no {} ({e})", json_file.display()));
    let v: serde_json::Value = serde_json::from_slice(&json).unwrap_or_else(|e| {
        panic!(
            "{pkg}: --json-out wrote no valid JSON ({e}):\n{}",
            text(&json)
        )
    });
    assert!(v.is_object(), "{pkg}: the JSON must be one object");
    assert_eq!(v["lab"], pkg, "{pkg}: the JSON names its lab");
    assert!(
        v["timings_ms"].is_object(),
        "{pkg}: the JSON carries timings"
    );
    let plots = v["plots"].as_array().expect("plots listed");
    assert!(!plots.is_empty(), "{pkg}: the JSON lists its plots");
    for p in plots {
        // Relative paths are relative to the folder the lab ran in: the repository's root.
        let p = root().join(p.as_str().expect("path"));
        assert!(p.is_file(), "{pkg}: plot {} was not written", p.display());
    }
    // A contributor's run (`WB_SAVE_INPUTS=1`) that has just shown these inputs print the book's
    // report records them, so that later runs need not run the lab again; CI never writes.
    if std::env::var_os("WB_SAVE_INPUTS").is_some_and(|v| v == "1") {
        std::fs::write(&record_file, e2e::inputs_record(pkg, &now))
            .unwrap_or_else(|e| panic!("{pkg}: {} ({e})", record_file.display()));
    }
    Ran::Compared
}

#[test]
fn timings_are_masked_and_nothing_else() {
    assert_eq!(
        without_timings(
            "fit (0.09 ms)\nMSE 12.5 ms\nx 1.5 m\n9800 requests/s, 3 requests\nCPU 85.2 GFLOP/s, 64 GB\nCPU    102.3 GFLOP/s\n  x   3"
        ),
        "fit (… ms)\nMSE … ms\nx 1.5 m\n… requests/s, 3 requests\nCPU … GFLOP/s, 64 GB\nCPU … GFLOP/s\n  x   3\n"
    );
}

#[test]
fn week02_refuses_bad_options_and_data_with_clear_errors() {
    let dir = std::env::temp_dir().join(format!("e2e-week02-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let run = |args: &[&str]| lab_run("week02-linreg", args, None);

    let out = run(&["--target", "price"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("no column named `price`; the columns are: age, sex, bmi"),
        "{err}"
    );

    // A negative number is read as a value (not as an option) and refused with the range.
    let out = run(&["--test-fraction", "-0.1"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("--test-fraction must be in [0, 1), got -0.1"),
        "{}",
        text(&out.stderr)
    );
    let out = run(&["--learning-rate", "0"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("invalid `--learning-rate`: must be a finite number > 0, got 0")
            && !err.contains("try a smaller"),
        "{err}"
    );

    let out = run(&["--test-fraction", "1.5"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("--test-fraction must be in [0, 1)"),
        "{}",
        text(&out.stderr)
    );

    let bad = dir.join("bad.csv");
    std::fs::write(&bad, "x,y\n1,2\n2,oops\n3,6\n").expect("write");
    let out = run(&["--data", &bad.display().to_string(), "--target", "y"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("bad.csv:3, column `y`: `oops` is not a number"),
        "{err}"
    );

    let collinear = dir.join("collinear.csv");
    let rows: String = (0..20)
        .map(|i| format!("{i},{},{}\n", 2 * i, 3 * i + 1))
        .collect();
    std::fs::write(&collinear, format!("a,b,y\n{rows}")).expect("write");
    let out = run(&["--data", &collinear.display().to_string(), "--target", "y"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("singular system: column 1"),
        "{}",
        text(&out.stderr)
    );

    // Your own CSV, fitted on every row: y = 2a − b + 3 exactly.
    let own = dir.join("own.csv");
    let rows: String = (0..30)
        .map(|i| format!("{i},{},{}\n", (i * 7) % 11, 2 * i - (i * 7) % 11 + 3))
        .collect();
    std::fs::write(&own, format!("a,b,y\n{rows}")).expect("write");
    let plots = dir.join("plots").display().to_string();
    let out = run(&[
        "--data",
        &own.display().to_string(),
        "--target",
        "y",
        "--test-fraction",
        "0",
        "--json",
        "--plots",
        &plots,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["n_test"], 0);
    let coef: Vec<f64> = v["normal_equations"]["coefficients"]
        .as_array()
        .expect("coefficients")
        .iter()
        .map(|c| c.as_f64().expect("number"))
        .collect();
    assert!(
        (coef[0] - 2.0).abs() < 1e-9 && (coef[1] + 1.0).abs() < 1e-9,
        "{coef:?}"
    );
    assert!(
        (v["normal_equations"]["intercept"]
            .as_f64()
            .expect("intercept")
            - 3.0)
            .abs()
            < 1e-9
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn week15_refuses_a_table_larger_than_memory_holds() {
    let dir = std::env::temp_dir().join(format!("e2e-w15-rows-{}", std::process::id()));
    let out = lab_run(
        "week15-serving-patterns",
        &[
            "generate",
            "--rows",
            "50000001",
            "--dir",
            &dir.display().to_string(),
        ],
        None,
    );
    assert!(!out.status.success(), "50,000,001 rows were accepted");
    let err = text(&out.stderr);
    assert!(
        err.contains("invalid `rows`: expected 1 to 50000000"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn week03_refuses_a_split_fraction_outside_0_1() {
    for f in ["0", "1", "1.5", "-0.2"] {
        let out = lab_run(
            "week03-preprocessing",
            &[&format!("--test-fraction={f}")],
            None,
        );
        assert!(!out.status.success(), "--test-fraction {f} was accepted");
        let err = text(&out.stderr);
        assert!(
            err.contains("invalid `--test-fraction`: must be strictly between 0 and 1"),
            "{f}: {err}"
        );
    }
}

#[test]
fn every_lab_has_help_and_refuses_unknown_options() {
    for lab in labs() {
        let pkg = package(&lab);
        let help = lab_run(&pkg, &["--help"], None);
        assert!(
            help.status.success() && text(&help.stdout).contains("--json"),
            "{pkg} --help"
        );
        let bad = lab_run(&pkg, &["--no-such-option"], None);
        assert!(!bad.status.success(), "{pkg} accepted an unknown option");
    }
}

/// `--runs DIR` never deletes what the learner keeps there: a folder with other files is refused
/// before any training, and the files are still there afterwards.
#[test]
fn week14_never_deletes_a_folder_it_did_not_write() {
    let dir = std::env::temp_dir().join(format!("e2e-week14-runs-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("chapter-2")).expect("mkdir");
    std::fs::write(dir.join("thesis.txt"), "two years of work").expect("write");
    let out = lab_run(
        "week14-training-loops",
        &["--runs", &dir.display().to_string()],
        None,
    );
    assert!(
        !out.status.success(),
        "a folder with other files was accepted"
    );
    let err = text(&out.stderr);
    assert!(
        err.contains("which this lab did not write") && err.contains("--runs"),
        "{err}"
    );
    assert!(!err.contains("stack backtrace"), "one clean message: {err}");
    assert_eq!(
        std::fs::read_to_string(dir.join("thesis.txt")).expect("still there"),
        "two years of work"
    );
    assert!(
        dir.join("chapter-2").is_dir(),
        "the sub-folder is still there"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--json-out` below a file names the file that is in the way, when the lab starts.
#[test]
fn json_out_below_a_file_is_refused_at_start_with_the_reason() {
    let dir = std::env::temp_dir().join(format!("e2e-json-out-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let file = dir.join("a-file");
    std::fs::write(&file, "").expect("write");
    let target = file.join("x.json").display().to_string();
    let out = lab_run("week09-neural-nets", &["--json-out", &target], None);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("is a file, not a folder") && err.contains("a-file"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The service's limits start at 1: `--max-batch 0` would refuse every request.
#[test]
fn week08_refuses_a_zero_limit_at_start() {
    for (option, value) in [("--max-batch", "0"), ("--timeout-ms", "0")] {
        let out = lab_run("week08-ml-service", &["serve", option, value], None);
        assert!(!out.status.success(), "serve {option} {value} was accepted");
        let err = text(&out.stderr);
        assert!(err.contains(option) && err.contains('0'), "{err}");
    }
}

/// Week 5 refuses data a classifier cannot learn from, saying why, instead of reporting 0 %.
#[test]
fn week05_refuses_a_continuous_target_and_an_empty_split() {
    let dir = std::env::temp_dir().join(format!("e2e-week05-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let continuous = dir.join("continuous.csv");
    let rows: String = (0..60).map(|i| format!("{i},{}.5\n", i * 3)).collect();
    std::fs::write(&continuous, format!("x,y\n{rows}")).expect("write");
    let out = lab_run(
        "week05-trees",
        &["--data", &continuous.display().to_string(), "--target", "y"],
        None,
    );
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("a continuous target, not classes"), "{err}");
    let tiny = dir.join("tiny.csv");
    std::fs::write(&tiny, "x,y\n1,a\n2,b\n").expect("write");
    let out = lab_run(
        "week05-trees",
        &["--data", &tiny.display().to_string(), "--target", "y"],
        None,
    );
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("both need some") || err.contains("no example of class"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A model folder that cannot be written fails when week 13 starts, naming the path, not after
/// its training.
#[test]
fn week13_refuses_an_unwritable_model_dir_at_start() {
    let dir = std::env::temp_dir().join(format!("e2e-week13-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let file = dir.join("a-file");
    std::fs::write(&file, "").expect("write");
    let bad = file.join("gpt").display().to_string();
    let out = lab_run("week13-transformer", &["--model-dir", &bad], None);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("--model-dir") && err.contains("a-file"),
        "{err}"
    );
    assert!(
        !text(&out.stdout).contains("Week 13"),
        "it failed before its report"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A lab whose reader has gone (`cargo run -p week09-neural-nets | head`) stops quietly instead
/// of panicking in its last print: the pipe's reading end is closed before the lab starts.
#[test]
fn a_lab_into_a_closed_pipe_stops_quietly() {
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    let out = cargo_command()
        .current_dir(root())
        .args([
            "run",
            "-q",
            "-p",
            "week09-neural-nets",
            "--",
            "--epochs",
            "1",
        ])
        .stdout(std::process::Stdio::from(writer))
        .stderr(std::process::Stdio::piped())
        .output()
        .expect("week 9");
    let err = text(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert!(out.status.success(), "exit status {:?}: {err}", out.status);
}
