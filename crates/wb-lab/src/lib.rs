//! The lab harness: what every lab binary (`labs/weekNN-*/src/main.rs`) shares, so that a lab's
//! `main.rs` says only what is its own.
//!
//! A lab flattens [`LabArgs`] into its options and hands [`run`] a closure that computes a typed
//! report. The report is `Serialize` (the JSON of `--json` and `--json-out`) and `Display` (the
//! human report): each result is named once, as a field. The harness prints the title, the
//! report and the plots, or the JSON, owns the timings and the plot paths, and prints an error as
//! one clean message (never a backtrace) with exit status 1.
//!
//! ```no_run
//! use clap::Parser;
//! use serde::Serialize;
//! use std::fmt;
//!
//! /// Week 99: a mean.
//! #[derive(Debug, Parser)]
//! struct Args {
//!     #[command(flatten)]
//!     lab: wb_lab::LabArgs,
//! }
//!
//! #[derive(Serialize)]
//! struct Report {
//!     mean: f64,
//! }
//!
//! impl fmt::Display for Report {
//!     fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
//!         writeln!(f, "mean: {}", self.mean)
//!     }
//! }
//!
//! fn run(_args: &Args, lab: &mut wb_lab::Lab) -> anyhow::Result<Report> {
//!     let mean = lab.timed("mean", || (1.0 + 2.0 + 6.0) / 3.0);
//!     Ok(Report { mean })
//! }
//!
//! // fn main: parses Args, runs `run` under the package's name with this title.
//! wb_lab::main!("Week 99 — a mean", run);
//! ```

use serde::Serialize;
use serde_json::{Map, Value};
use std::fmt::Display;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

pub use wb_core::lab::{display_path, elapsed_ms};

/// The options every lab has. Flatten it into the lab's own `Args`:
/// `#[command(flatten)] lab: wb_lab::LabArgs`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct LabArgs {
    /// Folder for the plots (PNG and SVG) [default: output/<lab>]
    #[arg(long, value_name = "DIR")]
    pub plots: Option<PathBuf>,
    /// Print the key results as one JSON object instead of the report
    #[arg(long)]
    pub json: bool,
    /// Also write the JSON results to FILE, and print the report as usual
    #[arg(long, value_name = "FILE", value_parser = writable_file)]
    pub json_out: Option<PathBuf>,
}

impl LabArgs {
    /// The plots folder: `--plots`, or `output/<lab>`.
    pub fn plots_dir(&self, lab: &str) -> PathBuf {
        self.plots
            .clone()
            .unwrap_or_else(|| Path::new("output").join(lab))
    }
}

/// What a lab's run can ask of the harness: the plots folder, timings, progress.
#[derive(Debug)]
pub struct Lab {
    name: String,
    plots_dir: PathBuf,
    plots: Vec<PathBuf>,
    timings: Vec<(String, f64)>,
    progress: bool,
}

impl Lab {
    /// A harness for the lab `name` (its package name) with the shared options `args`.
    pub fn new(name: &str, args: &LabArgs) -> Self {
        Self {
            name: name.to_string(),
            plots_dir: args.plots_dir(name),
            plots: Vec::new(),
            timings: Vec::new(),
            progress: !args.json && std::io::stderr().is_terminal(),
        }
    }

    /// The lab's package name (`week09-neural-nets`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The folder the plots go to.
    pub fn plots_dir(&self) -> &Path {
        &self.plots_dir
    }

    /// Records files the lab wrote (a plot's PNG and SVG, a log): the report lists them under
    /// "Plots:", the JSON under `plots`. Pass a plot's `save(lab.plots_dir(), name)?` result.
    pub fn saved(&mut self, files: impl IntoIterator<Item = PathBuf>) {
        self.plots.extend(files);
    }

    /// The files recorded so far.
    pub fn plots(&self) -> &[PathBuf] {
        &self.plots
    }

    /// Runs `f`, records its wall time under `name` in `timings_ms` and returns its result.
    /// On a terminal a spinner names the phase while it runs (a large `--data` file can keep
    /// one phase busy for seconds), and is cleared when it ends.
    pub fn timed<T>(&mut self, name: &str, f: impl FnOnce() -> T) -> T {
        let start = Instant::now();
        let spinner = self.progress.then(|| {
            let s = indicatif::ProgressBar::new_spinner().with_message(format!(
                "{}: {}",
                self.name,
                name.replace('_', " ")
            ));
            s.enable_steady_tick(std::time::Duration::from_millis(120));
            s
        });
        let out = f();
        if let Some(s) = spinner {
            s.finish_and_clear();
        }
        self.record_ms(name, elapsed_ms(start));
        out
    }

    /// Records a time measured by the lab itself, in milliseconds, under `name`.
    pub fn record_ms(&mut self, name: &str, ms: f64) {
        match self.timings.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = ms,
            None => self.timings.push((name.to_string(), ms)),
        }
    }

    /// The time recorded under `name` (0 when none was).
    pub fn ms(&self, name: &str) -> f64 {
        self.timings
            .iter()
            .find(|(n, _)| n == name)
            .map_or(0.0, |(_, ms)| *ms)
    }

    /// Whether to draw progress bars: only on a terminal, and never with `--json`.
    pub fn progress(&self) -> bool {
        self.progress
    }

    /// The JSON envelope of a report: `{"lab", <the report's fields>, "timings_ms", "plots"}`.
    /// The report must serialise to an object, and may not use the envelope's own keys.
    pub fn envelope<R: Serialize>(&self, report: &R, total_ms: f64) -> anyhow::Result<Value> {
        let Value::Object(fields) = serde_json::to_value(report)? else {
            anyhow::bail!("a lab's report must serialise to a JSON object");
        };
        let mut out = Map::new();
        out.insert("lab".into(), Value::from(self.name.as_str()));
        for (key, value) in fields {
            if matches!(key.as_str(), "lab" | "timings_ms" | "plots") {
                anyhow::bail!("the report's field `{key}` would replace the harness's own");
            }
            out.insert(key, value);
        }
        let mut timings = Map::new();
        timings.insert("total".into(), Value::from(total_ms));
        for (name, ms) in &self.timings {
            timings.insert(name.clone(), Value::from(*ms));
        }
        out.insert("timings_ms".into(), Value::Object(timings));
        let plots = self.plots.iter().map(|p| Value::from(display_path(p)));
        out.insert("plots".into(), Value::Array(plots.collect()));
        Ok(Value::Object(out))
    }

    /// The human report: the title underlined, the report, then the files written.
    pub fn render(&self, title: &str, report: &impl Display) -> String {
        let mut out = format!("{title}\n{}\n\n{report}", "=".repeat(title.chars().count()));
        if !self.plots.is_empty() {
            out.push_str("\nPlots:\n");
            for p in &self.plots {
                out.push_str(&format!("   {}\n", display_path(p)));
            }
        }
        out
    }
}

/// A lab's `fn main`: parses the lab's `Args` (a clap parser that flattens [`LabArgs`] as its
/// field `lab`) and runs `run(&args, lab)` on the harness under the package's name, with the
/// report's title: `wb_lab::main!("Week 2 — linear regression from scratch", run);`.
///
/// A lab with tools besides its report gives `Args` a field `command: Option<C>` (a clap
/// subcommand) and names the function that runs one, `fn(C) -> anyhow::Result<()>`:
/// `wb_lab::main!("Week 26 — …", demo::run, commands = commands::run);` runs the report
/// without a subcommand and the tool with one (an error: its message, exit status 1).
#[macro_export]
macro_rules! main {
    ($title:expr, $run:path) => {
        fn main() -> ::std::process::ExitCode {
            let args = <Args as ::clap::Parser>::parse();
            $crate::run(env!("CARGO_PKG_NAME"), $title, &args.lab, |lab| {
                $run(&args, lab)
            })
        }
    };
    ($title:expr, $run:path, commands = $commands:path) => {
        fn main() -> ::std::process::ExitCode {
            let args = <Args as ::clap::Parser>::parse();
            match &args.command {
                None => $crate::run(env!("CARGO_PKG_NAME"), $title, &args.lab, |lab| {
                    $run(&args, lab)
                }),
                Some(command) => $crate::exit($commands(command.clone())),
            }
        }
    };
}

/// Runs a lab: builds its [`Lab`], calls `body`, then prints the report (or the JSON with
/// `--json`) and writes `--json-out`. An error is printed as one message on stderr, its causes
/// after colons, and the exit status is 1.
pub fn run<R: Serialize + Display>(
    name: &str,
    title: &str,
    args: &LabArgs,
    body: impl FnOnce(&mut Lab) -> anyhow::Result<R>,
) -> ExitCode {
    let start = Instant::now();
    let mut lab = Lab::new(name, args);
    let outcome = body(&mut lab).and_then(|report| {
        let json = serde_json::to_string_pretty(&lab.envelope(&report, elapsed_ms(start))?)?;
        if let Some(path) = &args.json_out {
            write_json_out(path, &json)?;
        }
        if args.json {
            print_quietly(&format!("{json}\n"))?;
        } else {
            print_quietly(&lab.render(title, &report))?;
        }
        Ok(())
    });
    exit(outcome)
}

/// Writes `text` to stdout. A reader that has gone away (`cargo run -p week02-linreg | head`) is
/// not an error: the lab stops quietly, as Unix tools do, instead of panicking in `print!`.
fn print_quietly(text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// Prints an error as one clean line (`error: what: why`), whatever `RUST_BACKTRACE` says, and
/// turns the outcome into the exit status. For the labs' commands that do not print a report.
pub fn exit(outcome: anyhow::Result<()>) -> ExitCode {
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Writes a lab's JSON results to `path` (the `--json-out` option), creating its folder; an error
/// names the option and the file.
pub fn write_json_out(path: &Path, json: &str) -> anyhow::Result<()> {
    let fail =
        |e: std::io::Error| anyhow::anyhow!("--json-out: cannot write {}: {e}", path.display());
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(fail)?;
    }
    // Written beside the file, then renamed over it: a lab killed mid-write leaves the previous
    // JSON whole (or none), never half of one.
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    std::fs::write(&partial, json).map_err(fail)?;
    std::fs::rename(&partial, path).map_err(fail)
}

/// Parses a count that must be at least 1 (a clap `value_parser`: `--max-batch 0` is refused when
/// the lab starts, with the range).
pub fn at_least_one(arg: &str) -> Result<usize, String> {
    match arg.parse::<usize>() {
        Ok(0) => Err("must be at least 1, got 0".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("expected a whole number ≥ 1, got `{arg}`")),
    }
}

/// Parses `--json-out FILE` (a clap `value_parser`): creates the file's folder and checks that
/// the file can be written there, so that a bad path fails when the lab starts, not after its
/// training. A file that did not exist is removed again; an existing one is left as it is.
pub fn writable_file(arg: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(arg);
    let fail = |e: std::io::Error| format!("cannot write {arg}: {e}");
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        // "File exists" is what the system says when a folder on the way is a file: name it.
        if let Some(file) = dir.ancestors().find(|a| a.is_file()) {
            return Err(format!(
                "cannot write {arg}: {} is a file, not a folder",
                file.display()
            ));
        }
        std::fs::create_dir_all(dir).map_err(fail)?;
    }
    let existed = path.exists();
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(&path)
        .map_err(fail)?;
    if !existed {
        std::fs::remove_file(&path).map_err(fail)?;
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Args {
        /// A lab's own option
        #[arg(long, default_value_t = 3)]
        n: usize,
        #[command(flatten)]
        lab: LabArgs,
    }

    #[derive(Serialize)]
    struct Report {
        mean: f64,
        counts: Vec<usize>,
    }

    impl Display for Report {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            writeln!(f, "mean {}", self.mean)
        }
    }

    #[test]
    fn options_flatten_and_default_the_plots_folder() {
        let a = Args::try_parse_from(["lab", "--n", "5", "--json"]).unwrap();
        assert_eq!(a.n, 5);
        assert!(a.lab.json);
        assert_eq!(
            a.lab.plots_dir("week99-x"),
            Path::new("output").join("week99-x")
        );
        let a = Args::try_parse_from(["lab", "--plots", "p"]).unwrap();
        assert_eq!(a.lab.plots_dir("week99-x"), Path::new("p"));
        assert!(Args::try_parse_from(["lab", "--no-such"]).is_err());
    }

    #[test]
    fn the_envelope_holds_the_report_timings_and_plots() {
        let mut lab = Lab::new("week99-x", &LabArgs::default());
        assert_eq!(lab.timed("fit", || 7), 7);
        lab.record_ms("load", 2.5);
        lab.record_ms("load", 3.5);
        assert_eq!(lab.ms("load"), 3.5);
        assert_eq!(lab.ms("never"), 0.0);
        lab.saved([PathBuf::from("out/a.png"), PathBuf::from("out/a.svg")]);
        let report = Report {
            mean: 3.0,
            counts: vec![1, 2],
        };
        let v = lab.envelope(&report, 10.0).unwrap();
        assert_eq!(v["lab"], "week99-x");
        assert_eq!(v["mean"], 3.0);
        assert_eq!(v["counts"], serde_json::json!([1, 2]));
        assert_eq!(v["timings_ms"]["total"], 10.0);
        assert_eq!(v["timings_ms"]["load"], 3.5);
        assert!(v["timings_ms"]["fit"].as_f64().unwrap() >= 0.0);
        assert_eq!(v["plots"], serde_json::json!(["out/a.png", "out/a.svg"]));
        assert_eq!(
            lab.render("Week 99 — x", &report),
            "Week 99 — x\n===========\n\nmean 3\n\nPlots:\n   out/a.png\n   out/a.svg\n"
        );
    }

    #[test]
    fn a_report_may_not_shadow_the_envelope_or_be_no_object() {
        #[derive(Serialize)]
        struct Bad {
            plots: u8,
        }
        let lab = Lab::new("week99-x", &LabArgs::default());
        let err = lab.envelope(&Bad { plots: 1 }, 0.0).unwrap_err();
        assert!(err.to_string().contains("`plots`"), "{err}");
        assert!(lab.envelope(&3.0, 0.0).is_err());
    }

    #[test]
    fn counts_start_at_one() {
        assert_eq!(at_least_one("3"), Ok(3));
        assert_eq!(at_least_one("0").unwrap_err(), "must be at least 1, got 0");
        assert!(at_least_one("-1").unwrap_err().contains("`-1`"));
        assert!(at_least_one("many").is_err());
    }

    #[test]
    fn json_out_is_checked_when_parsed() {
        let dir = std::env::temp_dir().join(format!("wb-lab-json-out-{}", std::process::id()));
        let fresh = dir.join("new").join("fresh.json");
        assert_eq!(writable_file(&fresh.display().to_string()).unwrap(), fresh);
        assert!(!fresh.exists(), "a file the check created is removed");
        std::fs::write(&fresh, "{}").unwrap();
        writable_file(&fresh.display().to_string()).unwrap();
        assert_eq!(std::fs::read_to_string(&fresh).unwrap(), "{}", "kept");
        let bad = fresh.join("x.json").display().to_string();
        let err = writable_file(&bad).unwrap_err();
        assert!(err.contains("fresh.json is a file, not a folder"), "{err}");
        let args = Args::try_parse_from(["lab", "--json-out", &bad]);
        assert!(args.is_err(), "clap refuses the path at start-up");
        let file = dir.join("sub").join("out.json");
        write_json_out(&file, "{}").unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "{}");
        write_json_out(&file, "{\"second\": 2}").unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "{\"second\": 2}");
        assert!(
            !dir.join("sub").join("out.json.partial").exists(),
            "no partial file is left behind"
        );
        let err = write_json_out(&file.join("below-a-file.json"), "{}").unwrap_err();
        let err = err.to_string();
        assert!(
            err.contains("--json-out") && err.contains("below-a-file"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
