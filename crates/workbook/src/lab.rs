//! Labs on disk: `labs/weekNN-slug/lab.toml`, and the exercise form of their sources.

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use std::path::{Path, PathBuf};

pub const BEGIN: &str = "// BEGIN SOLUTION";
pub const END: &str = "// END SOLUTION";

/// The test target of every lab's checks: `labs/<lab>/tests/grade.rs`.
pub const GRADE_TEST: &str = "grade";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabToml {
    pub lab: LabMeta,
    #[serde(default)]
    pub grading: Grading,
    #[serde(default)]
    pub exercise: Vec<Exercise>,
}

/// The `[lab]` table. What the folder name already says (`week07-features-pipelines`: week 7,
/// that package) is derived, not written: the week, the package, the phase (from the roadmap)
/// and the chapter (`book/src/phase<P>/<package>.md`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabMeta {
    #[serde(skip)]
    pub week: u32,
    #[serde(skip)]
    pub package: String,
    pub title: String,
    #[serde(skip)]
    pub phase: u32,
    #[serde(default)]
    pub data: Vec<String>,
    #[serde(skip)]
    pub chapter: String,
    #[serde(default)]
    pub objectives: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grading {
    #[serde(default)]
    pub allowed_to_pass: Vec<AllowedToPass>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AllowedToPass {
    pub check: String,
    pub reason: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Exercise {
    pub id: String,
    pub file: String,
    pub title: String,
    pub hints: Vec<String>,
}

/// A lab found in `labs/`.
#[derive(Debug, Clone)]
pub struct Lab {
    pub dir: PathBuf,
    pub meta: LabToml,
}

impl Lab {
    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join("lab.toml");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let mut meta: LabToml =
            toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        let package = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let week = package
            .strip_prefix("week")
            .and_then(|rest| rest.split('-').next())
            .and_then(|n| n.parse::<u32>().ok())
            .with_context(|| format!("{}: a lab's folder is named weekNN-slug", dir.display()))?;
        let phase = crate::roadmap::phase_of(week)
            .with_context(|| format!("{package}: week {week} is in no phase of the roadmap"))?;
        meta.lab.chapter = format!("book/src/phase{phase}/{package}.md");
        meta.lab.week = week;
        meta.lab.phase = phase;
        meta.lab.package = package;
        for ex in &meta.exercise {
            if ex.hints.len() < 3 {
                bail!(
                    "{}: exercise `{}` has {} hints; every exercise needs at least 3 levels",
                    path.display(),
                    ex.id,
                    ex.hints.len()
                );
            }
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            meta,
        })
    }

    /// `week02`
    pub fn week_id(&self) -> String {
        format!("week{:02}", self.meta.lab.week)
    }

    pub fn package(&self) -> &str {
        &self.meta.lab.package
    }

    pub fn exercise(&self, id: &str) -> Option<&Exercise> {
        self.meta.exercise.iter().find(|e| e.id == id)
    }

    /// Whether the region(s) of exercise `id` in its file still hold a `todo!(`: not solved yet.
    pub fn exercise_has_todo(&self, id: &str) -> bool {
        let Some(ex) = self.exercise(id) else {
            return false;
        };
        let text = std::fs::read_to_string(self.dir.join(&ex.file)).unwrap_or_default();
        let mut inside = false;
        for line in text.lines() {
            let trimmed = line.trim_start();
            if let Some(rest) = trimmed.strip_prefix(BEGIN) {
                inside = rest.trim() == id;
            } else if trimmed.starts_with(END) {
                inside = false;
            } else if inside && trimmed.starts_with("todo!(") {
                return true;
            }
        }
        false
    }

    /// The exercise whose `todo!()` says `message` (its first hint), if any: the exercise a failed
    /// check actually ran into.
    pub fn exercise_of_todo(&self, message: &str) -> Option<&Exercise> {
        self.meta
            .exercise
            .iter()
            .find(|e| e.hints.first().is_some_and(|h| h == message.trim()))
    }

    /// Every `.rs` file under the lab's `src/` that holds a solution region, sorted.
    pub fn solution_files(&self) -> Result<Vec<PathBuf>> {
        let mut files = Vec::new();
        collect_rs(&self.dir.join("src"), &mut files)?;
        files.sort();
        let mut out = Vec::new();
        for f in files {
            let text =
                std::fs::read_to_string(&f).with_context(|| format!("reading {}", f.display()))?;
            if text.lines().any(|l| l.trim_start().starts_with(BEGIN)) {
                out.push(f);
            }
        }
        Ok(out)
    }
}

fn collect_rs(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            collect_rs(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

/// Whether a solution region of `source` (between the markers) holds a `todo!(`: the exercise
/// form that `start` writes, not yet solved.
pub fn regions_hold_todo(source: &str) -> bool {
    let mut inside = false;
    for line in source.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with(BEGIN) {
            inside = true;
        } else if trimmed.starts_with(END) {
            inside = false;
        } else if inside && trimmed.starts_with("todo!(") {
            return true;
        }
    }
    false
}

/// The exercise form of one source file: every line between `// BEGIN SOLUTION <id>` and
/// `// END SOLUTION` is replaced by `todo!("<first hint of <id>>")`, at the marker's indentation.
/// The markers stay, so the learner sees where to write. `file` is used in error messages.
///
/// A region that ends a block (the next code line closes it with `}`) becomes the block's value,
/// `todo!(…)`; a region followed by more code (loops that fill a buffer, then `Ok(buffer)`)
/// becomes a statement, `todo!(…);`, so that the exercise form still compiles.
pub fn exercise_form(file: &str, source: &str, lab: &Lab) -> Result<String> {
    let mut out = String::with_capacity(source.len());
    let mut open: Option<usize> = None;
    // Where the current region's `todo!(…)` line ends in `out` (just before its newline).
    let mut todo_end = 0;
    let lines: Vec<&str> = source.split_inclusive('\n').collect();
    for (i, line) in lines.iter().copied().enumerate() {
        let trimmed = line.trim_start();
        let lineno = i + 1;
        if let Some(rest) = trimmed.strip_prefix(BEGIN) {
            if let Some(start) = open {
                bail!("{file}:{lineno}: `{BEGIN}` inside the region opened at line {start}");
            }
            let id = rest.trim();
            if id.is_empty() {
                bail!("{file}:{lineno}: `{BEGIN}` needs an exercise id, as in `{BEGIN} dot`");
            }
            let Some(ex) = lab.exercise(id) else {
                bail!(
                    "{file}:{lineno}: exercise `{id}` is not declared in {}/lab.toml",
                    lab.dir.display()
                );
            };
            let indent = &line[..line.len() - trimmed.len()];
            out.push_str(line);
            // todo!'s message is a format string: braces in a hint (`e^{x}`) must be doubled. The
            // literal keeps every other character as written (`{:?}` would turn the combining
            // macron of `x̄` into `\u{304}`).
            let hint = ex.hints[0].replace('{', "{{").replace('}', "}}");
            let literal = hint
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n");
            out.push_str(&format!("{indent}todo!(\"{literal}\")"));
            todo_end = out.len();
            out.push('\n');
            open = Some(lineno);
        } else if trimmed.starts_with(END) {
            if open.take().is_none() {
                bail!("{file}:{lineno}: `{END}` without a `{BEGIN}` before it");
            }
            let next_code = lines[i + 1..]
                .iter()
                .map(|l| l.trim())
                .find(|l| !l.is_empty() && !l.starts_with("//"));
            if next_code.is_some_and(|l| !l.starts_with('}')) {
                out.insert(todo_end, ';');
            }
            out.push_str(line);
        } else if open.is_none() {
            out.push_str(line);
        }
    }
    if let Some(start) = open {
        bail!("{file}:{start}: `{BEGIN}` is never closed by `{END}`");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lab() -> Lab {
        let meta: LabToml = toml::from_str(
            r#"
            [lab]
            title = "t"
            [[exercise]]
            id = "dot"
            file = "src/lib.rs"
            title = "d"
            hints = ["multiply \"pairwise\" and add", "b", "c"]
            "#,
        )
        .unwrap();
        Lab {
            dir: PathBuf::from("labs/week99-test"),
            meta,
        }
    }

    #[test]
    fn a_failed_check_points_to_the_exercise_whose_todo_it_hit() {
        let mut lab = lab();
        lab.meta.exercise.push(Exercise {
            id: "norm".into(),
            file: "src/lib.rs".into(),
            title: "n".into(),
            hints: vec!["square, add, root".into(), "b".into(), "c".into()],
        });
        let report = "✗ week00 · check `x`\n  your code panicked\n  this exercise is not done yet (todo!): square, add, root\n  hint: cargo run -p workbook -- hint week00 dot";
        let fixed = crate::grading::hint_for_the_todo_hit(&lab, report);
        assert!(
            fixed.ends_with("hint: cargo run -p workbook -- hint week00 norm"),
            "{fixed}"
        );
        let other = "✗ week00 · check `x`\n  a value differs\n  hint: cargo run -p workbook -- hint week00 dot";
        assert_eq!(crate::grading::hint_for_the_todo_hit(&lab, other), other);
    }

    #[test]
    fn what_the_folder_says_is_derived_and_may_not_be_written() {
        let dir = std::env::temp_dir().join(format!("wb-lab-toml-{}", std::process::id()));
        let lab_dir = dir.join("week17-tokenization");
        std::fs::create_dir_all(&lab_dir).unwrap();
        std::fs::write(lab_dir.join("lab.toml"), "[lab]\ntitle = \"Tokens\"\n").unwrap();
        let lab = Lab::load(&lab_dir).unwrap();
        assert_eq!(lab.meta.lab.week, 17);
        assert_eq!(lab.package(), "week17-tokenization");
        assert_eq!(lab.meta.lab.phase, 3);
        assert_eq!(
            lab.meta.lab.chapter,
            "book/src/phase3/week17-tokenization.md"
        );
        assert!(lab.meta.grading.allowed_to_pass.is_empty());
        std::fs::write(
            lab_dir.join("lab.toml"),
            "[lab]\ntitle = \"Tokens\"\nweek = 17\n",
        )
        .unwrap();
        let err = format!("{:#}", Lab::load(&lab_dir).unwrap_err());
        assert!(err.contains("unknown field `week`"), "{err}");
        let odd = dir.join("tokenization");
        std::fs::create_dir_all(&odd).unwrap();
        std::fs::write(odd.join("lab.toml"), "[lab]\ntitle = \"Tokens\"\n").unwrap();
        let err = format!("{:#}", Lab::load(&odd).unwrap_err());
        assert!(err.contains("named weekNN-slug"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_region_followed_by_code_becomes_a_statement() {
        let src = "fn f() -> Vec<f64> {\n    let mut v = vec![0.0];\n    // BEGIN SOLUTION dot\n    v[0] = 1.0;\n    // END SOLUTION\n    // ANCHOR_END: f\n    v\n}\n";
        let out = exercise_form("lib.rs", src, &lab()).unwrap();
        assert!(
            out.contains("    todo!(\"multiply \\\"pairwise\\\" and add\");\n    // END SOLUTION"),
            "{out}"
        );
    }

    #[test]
    fn regions_become_todo_with_the_first_hint() {
        let src = "fn dot() -> f64 {\n    check();\n    // BEGIN SOLUTION dot\n    let s = 1.0;\n    s\n    // END SOLUTION\n}\n";
        let out = exercise_form("lib.rs", src, &lab()).unwrap();
        assert_eq!(
            out,
            "fn dot() -> f64 {\n    check();\n    // BEGIN SOLUTION dot\n    todo!(\"multiply \\\"pairwise\\\" and add\")\n    // END SOLUTION\n}\n"
        );
    }

    #[test]
    fn a_hint_keeps_its_characters_in_the_todo() {
        let mut l = lab();
        l.meta.exercise[0].hints[0] = "centre on the mean x̄, a \\ b".into();
        let src = "fn f() -> f64 {\n    // BEGIN SOLUTION dot\n    1.0\n    // END SOLUTION\n}\n";
        let out = exercise_form("lib.rs", src, &l).unwrap();
        assert!(
            out.contains("todo!(\"centre on the mean x̄, a \\\\ b\")"),
            "{out}"
        );
    }

    #[test]
    fn braces_in_a_hint_are_escaped_for_the_format_string() {
        let mut l = lab();
        l.meta.exercise[0].hints[0] = "sum e^{x_j}".into();
        let out =
            exercise_form("lib.rs", "// BEGIN SOLUTION dot\nx\n// END SOLUTION\n", &l).unwrap();
        assert!(out.contains("todo!(\"sum e^{{x_j}}\")"), "{out}");
    }

    #[test]
    fn broken_markers_are_reported_with_their_line() {
        let err = exercise_form("a.rs", "// BEGIN SOLUTION dot\nx\n", &lab()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "a.rs:1: `// BEGIN SOLUTION` is never closed by `// END SOLUTION`"
        );
        let err = exercise_form("a.rs", "x\n// END SOLUTION\n", &lab()).unwrap_err();
        assert!(err.to_string().starts_with("a.rs:2:"), "{err}");
        let err =
            exercise_form("a.rs", "// BEGIN SOLUTION nope\n// END SOLUTION\n", &lab()).unwrap_err();
        assert!(
            err.to_string().contains("exercise `nope` is not declared"),
            "{err}"
        );
    }
}
