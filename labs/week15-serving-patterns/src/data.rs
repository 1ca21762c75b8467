//! The lab's data: a card issuer's customers and their transactions, generated here (any size,
//! the same for the same seed), with a fraud label drawn from a known logistic law so that the
//! best possible model is known too.
//!
//! | table | columns |
//! |---|---|
//! | `customers` (CSV) | `customer_id`, `tenure_months`, `plan` (basic, plus, pro) |
//! | `transactions` (Parquet or CSV) | `txn_id`, `customer_id`, `amount`, `hour`, `items`, `channel` (web, app, store) |
//! | `labelled` (Parquet) | the transactions' columns and `fraud` (0 or 1), for training |

use anyhow::{Context, Result, bail};
use polars::prelude::*;
use std::path::{Path, PathBuf};
use wb_data::SplitMix64;

/// How many customers the generated transactions belong to.
pub const CUSTOMERS: usize = 20_000;
/// Rows of the labelled training table.
pub const LABELLED_ROWS: usize = 50_000;
/// The most transactions `generate` writes: the table is built in memory first (about 60 bytes
/// a row), so 50 million rows take about 3 GB.
pub const MAX_ROWS: usize = 50_000_000;

const PLANS: [&str; 3] = ["basic", "plus", "pro"];
const CHANNELS: [&str; 3] = ["web", "app", "store"];

/// One standard normal draw (Box–Muller).
fn normal(rng: &mut SplitMix64) -> f64 {
    let u = rng.next_f64().max(f64::MIN_POSITIVE);
    let v = rng.next_f64();
    (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
}

/// The customers: tenure in months and plan, indexed by `customer_id`.
pub struct Customers {
    pub tenure_months: Vec<i64>,
    pub plan: Vec<&'static str>,
}

impl Customers {
    /// [`CUSTOMERS`] customers drawn from `seed`.
    pub fn generate(seed: u64) -> Self {
        let mut rng = SplitMix64::new(seed);
        let mut tenure_months = Vec::with_capacity(CUSTOMERS);
        let mut plan = Vec::with_capacity(CUSTOMERS);
        for _ in 0..CUSTOMERS {
            tenure_months.push((rng.next_u64() % 121) as i64);
            let u = rng.next_f64();
            plan.push(PLANS[usize::from(u >= 0.6) + usize::from(u >= 0.9)]);
        }
        Self {
            tenure_months,
            plan,
        }
    }

    /// The `customers` table.
    pub fn frame(&self) -> Result<DataFrame> {
        Ok(df![
            "customer_id" => (0..self.plan.len() as i64).collect::<Vec<_>>(),
            "tenure_months" => self.tenure_months.clone(),
            "plan" => self.plan.clone(),
        ]?)
    }
}

/// The fraud log-odds of a transaction: the law the labels are drawn from, in the features the
/// lab's SQL computes. No model can do better than these probabilities.
pub fn true_logit(log_amount: f64, night: f64, web: f64, items: f64, tenure: f64, pro: f64) -> f64 {
    -5.0 + 0.8 * log_amount + 1.2 * night + 0.7 * web + 0.05 * items - 0.015 * tenure - 0.6 * pro
}

/// `rows` transactions of `customers`, with txn_id from
/// `first_id`; with a `fraud` column when `labelled`.
pub fn transactions(
    rows: usize,
    first_id: i64,
    seed: u64,
    customers: &Customers,
    labelled: bool,
) -> Result<DataFrame> {
    let (tenure, plan) = (&customers.tenure_months, &customers.plan);
    let mut rng = SplitMix64::new(seed);
    let (mut customer, mut amount, mut hour, mut items, mut channel, mut fraud) = (
        Vec::with_capacity(rows),
        Vec::with_capacity(rows),
        Vec::with_capacity(rows),
        Vec::with_capacity(rows),
        Vec::with_capacity(rows),
        Vec::with_capacity(rows),
    );
    for _ in 0..rows {
        let c = (rng.next_u64() % CUSTOMERS as u64) as usize;
        // Log-normal amounts, in cents.
        let a = ((3.5 + 1.1 * normal(&mut rng)).exp() * 100.0).round() / 100.0;
        let h = (rng.next_u64() % 24) as i64;
        let n = 1 + (rng.next_u64() % 10) as i64;
        let u = rng.next_f64();
        let ch = CHANNELS[usize::from(u >= 0.45) + usize::from(u >= 0.85)];
        if labelled {
            let z = true_logit(
                (a + 1.0).ln(),
                f64::from(u8::from(h < 6)),
                f64::from(u8::from(ch == "web")),
                n as f64,
                tenure[c] as f64,
                f64::from(u8::from(plan[c] == "pro")),
            );
            fraud.push(i64::from(rng.next_f64() < 1.0 / (1.0 + (-z).exp())));
        }
        customer.push(c as i64);
        amount.push(a);
        hour.push(h);
        items.push(n);
        channel.push(ch);
    }
    let mut df = df![
        "txn_id" => (first_id..first_id + rows as i64).collect::<Vec<_>>(),
        "customer_id" => customer,
        "amount" => amount,
        "hour" => hour,
        "items" => items,
        "channel" => channel,
    ]?;
    if labelled {
        df.with_column(Column::new("fraud".into(), fraud))?;
    }
    Ok(df)
}

/// The files [`generate`] writes.
#[derive(Debug, Clone)]
pub struct Files {
    pub customers: PathBuf,
    pub transactions: PathBuf,
    pub labelled: PathBuf,
}

/// Input formats of the batch job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Parquet,
    Csv,
}

/// Writes `customers.csv`, `transactions.parquet` (or `.csv`) with `rows` rows and
/// `labelled.parquet` into `dir`, each through a temporary file and a rename.
pub fn generate(dir: &Path, rows: usize, format: Format, seed: u64) -> Result<Files> {
    if rows == 0 || rows > MAX_ROWS {
        bail!(
            "invalid `rows`: expected 1 to {MAX_ROWS} (the table is built in memory), got {rows}"
        );
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let people = Customers::generate(seed);
    let files = Files {
        customers: dir.join("customers.csv"),
        transactions: dir.join(match format {
            Format::Parquet => "transactions.parquet",
            Format::Csv => "transactions.csv",
        }),
        labelled: dir.join("labelled.parquet"),
    };
    write_table(&mut people.frame()?, &files.customers)?;
    let mut txns = transactions(rows, 0, seed ^ 0x7478, &people, false)?;
    write_table(&mut txns, &files.transactions)?;
    let mut labelled = transactions(
        LABELLED_ROWS,
        -(LABELLED_ROWS as i64),
        seed ^ 0x6c62,
        &people,
        true,
    )?;
    write_table(&mut labelled, &files.labelled)?;
    Ok(files)
}

/// Writes `df` as Parquet or CSV (by the extension), whole or not at all.
pub fn write_table(df: &mut DataFrame, path: &Path) -> Result<()> {
    let tmp = path.with_extension(format!(
        "{}.tmp-{}",
        path.extension().and_then(|e| e.to_str()).unwrap_or(""),
        std::process::id()
    ));
    let mut file =
        std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    match path.extension().and_then(|e| e.to_str()) {
        Some("parquet") => {
            ParquetWriter::new(&mut file).finish(df)?;
        }
        Some("csv") => CsvWriter::new(&mut file).finish(df)?,
        _ => bail!("{}: expected a .parquet or .csv file name", path.display()),
    }
    file.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))?;
    Ok(())
}

/// A lazy scan of a Parquet or CSV table (by the extension).
pub fn scan(path: &Path) -> Result<LazyFrame> {
    if !path.is_file() {
        bail!("{}: no such file", path.display());
    }
    let p = PlRefPath::try_from_path(path)?;
    Ok(match path.extension().and_then(|e| e.to_str()) {
        Some("parquet") => LazyFrame::scan_parquet(p, ScanArgsParquet::default())
            .map_err(anyhow::Error::from)
            .with_context(|| format!("{}: not a readable Parquet file", path.display()))?,
        Some("csv") => LazyCsvReader::new(p).with_has_header(true).finish()?,
        _ => bail!("{}: expected a .parquet or .csv file", path.display()),
    })
}
