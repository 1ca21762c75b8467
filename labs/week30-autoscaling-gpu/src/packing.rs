//! GPU scheduling as bin packing: put jobs (each asking for GPU memory and a share of the GPU's
//! compute) onto as few GPUs as possible, never over a GPU's memory or compute.
//!
//! Two dimensions make it *vector* bin packing, NP-hard like the one-dimensional kind, so a
//! scheduler uses greedy rules: sort the jobs largest first (by their larger share of a GPU),
//! then **first fit** (the first GPU with room) or **best fit** (the GPU left fullest). Small
//! instances are solved exactly here by branch and bound, and the exact solver is checked
//! against brute force over every partition of the jobs.

use anyhow::{Result, ensure};
use serde::Serialize;

/// A job's needs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Job {
    pub name: String,
    pub memory_gib: f64,
    /// A share of one GPU's compute, in (0, 1].
    pub compute: f64,
}

impl Job {
    pub fn new(name: &str, memory_gib: f64, compute: f64) -> Self {
        Self {
            name: name.to_string(),
            memory_gib,
            compute,
        }
    }
}

/// GPUs' indices into the jobs: `gpus[g]` lists the jobs on GPU g.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Packing {
    pub gpus: Vec<Vec<usize>>,
}

/// Slack for sums of decimal fractions (0.1 + 0.2 is not 0.3 in binary).
const EPS: f64 = 1e-9;

/// Checks the jobs against a GPU of `memory_gib` (and a compute of 1).
pub fn check_jobs(jobs: &[Job], memory_gib: f64) -> Result<()> {
    ensure!(
        memory_gib.is_finite() && memory_gib > 0.0,
        "memory_gib: expected a GPU memory above 0 GiB, got {memory_gib}"
    );
    for (i, j) in jobs.iter().enumerate() {
        ensure!(
            j.memory_gib.is_finite() && j.memory_gib > 0.0 && j.memory_gib <= memory_gib + EPS,
            "jobs[{i}] ({}): expected memory in (0, {memory_gib}] GiB (one GPU), got {}",
            j.name,
            j.memory_gib
        );
        ensure!(
            j.compute.is_finite() && j.compute > 0.0 && j.compute <= 1.0 + EPS,
            "jobs[{i}] ({}): expected a compute share in (0, 1], got {}",
            j.name,
            j.compute
        );
    }
    Ok(())
}

/// A job's size for sorting: its larger share of one GPU.
fn size(j: &Job, memory_gib: f64) -> f64 {
    (j.memory_gib / memory_gib).max(j.compute)
}

/// Job indices, largest first (ties by index, so the order is reproducible).
fn decreasing(jobs: &[Job], memory_gib: f64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..jobs.len()).collect();
    order.sort_by(|&a, &b| {
        size(&jobs[b], memory_gib)
            .total_cmp(&size(&jobs[a], memory_gib))
            .then(a.cmp(&b))
    });
    order
}

/// Whether job `j` fits beside a GPU's `load` (memory GiB, compute).
pub fn fits(load: (f64, f64), j: &Job, memory_gib: f64) -> bool {
    load.0 + j.memory_gib <= memory_gib + EPS && load.1 + j.compute <= 1.0 + EPS
}

// ANCHOR: first_fit_decreasing
/// First fit decreasing: jobs largest first, each on the first GPU with room, a new GPU when
/// none has.
pub fn first_fit_decreasing(jobs: &[Job], memory_gib: f64) -> Result<Packing> {
    check_jobs(jobs, memory_gib)?;
    // BEGIN SOLUTION first_fit_decreasing
    let mut gpus: Vec<Vec<usize>> = Vec::new();
    let mut loads: Vec<(f64, f64)> = Vec::new();
    for i in decreasing(jobs, memory_gib) {
        let j = &jobs[i];
        match loads.iter().position(|&l| fits(l, j, memory_gib)) {
            Some(g) => {
                gpus[g].push(i);
                loads[g].0 += j.memory_gib;
                loads[g].1 += j.compute;
            }
            None => {
                gpus.push(vec![i]);
                loads.push((j.memory_gib, j.compute));
            }
        }
    }
    Ok(Packing { gpus })
    // END SOLUTION
}
// ANCHOR_END: first_fit_decreasing

/// Best fit decreasing: jobs largest first, each on the GPU it leaves with the least room (memory
/// and compute shares left, added), a new GPU when none has room.
pub fn best_fit_decreasing(jobs: &[Job], memory_gib: f64) -> Result<Packing> {
    check_jobs(jobs, memory_gib)?;
    let mut gpus: Vec<Vec<usize>> = Vec::new();
    let mut loads: Vec<(f64, f64)> = Vec::new();
    for i in decreasing(jobs, memory_gib) {
        let j = &jobs[i];
        let left = |l: (f64, f64)| {
            (memory_gib - l.0 - j.memory_gib) / memory_gib + (1.0 - l.1 - j.compute)
        };
        let best = (0..loads.len())
            .filter(|&g| fits(loads[g], j, memory_gib))
            .min_by(|&a, &b| left(loads[a]).total_cmp(&left(loads[b])).then(a.cmp(&b)));
        match best {
            Some(g) => {
                gpus[g].push(i);
                loads[g].0 += j.memory_gib;
                loads[g].1 += j.compute;
            }
            None => {
                gpus.push(vec![i]);
                loads.push((j.memory_gib, j.compute));
            }
        }
    }
    Ok(Packing { gpus })
}

/// The most jobs [`optimal`] takes (its search grows exponentially).
pub const MAX_EXACT: usize = 24;

/// The fewest GPUs, by branch and bound: jobs largest first, each tried on every GPU opened so
/// far that has room and on one new GPU; a branch is cut when it cannot beat the best found, and
/// the search stops at the lower bound ⌈Σ memory / M⌉, ⌈Σ compute⌉.
pub fn optimal(jobs: &[Job], memory_gib: f64) -> Result<Packing> {
    check_jobs(jobs, memory_gib)?;
    ensure!(
        jobs.len() <= MAX_EXACT,
        "jobs: the exact search takes at most {MAX_EXACT} jobs, got {}",
        jobs.len()
    );
    let order = decreasing(jobs, memory_gib);
    let memory: f64 = jobs.iter().map(|j| j.memory_gib).sum();
    let compute: f64 = jobs.iter().map(|j| j.compute).sum();
    let lower = ((memory / memory_gib - EPS).ceil())
        .max((compute - EPS).ceil())
        .max(1.0) as usize;
    let mut best = first_fit_decreasing(jobs, memory_gib)?;
    if best.gpus.len() > lower {
        let mut gpus: Vec<Vec<usize>> = Vec::new();
        let mut loads: Vec<(f64, f64)> = Vec::new();
        search(
            jobs, memory_gib, &order, 0, &mut gpus, &mut loads, &mut best, lower,
        );
    }
    Ok(best)
}

#[allow(clippy::too_many_arguments)]
fn search(
    jobs: &[Job],
    memory_gib: f64,
    order: &[usize],
    k: usize,
    gpus: &mut Vec<Vec<usize>>,
    loads: &mut Vec<(f64, f64)>,
    best: &mut Packing,
    lower: usize,
) -> bool {
    if k == order.len() {
        if gpus.len() < best.gpus.len() {
            *best = Packing { gpus: gpus.clone() };
        }
        return best.gpus.len() == lower;
    }
    let i = order[k];
    let j = &jobs[i];
    for g in 0..gpus.len() {
        if fits(loads[g], j, memory_gib) {
            gpus[g].push(i);
            loads[g].0 += j.memory_gib;
            loads[g].1 += j.compute;
            let done = search(jobs, memory_gib, order, k + 1, gpus, loads, best, lower);
            loads[g].0 -= j.memory_gib;
            loads[g].1 -= j.compute;
            gpus[g].pop();
            if done {
                return true;
            }
        }
    }
    // A new GPU, only when it could still beat the best.
    if gpus.len() + 1 < best.gpus.len() {
        gpus.push(vec![i]);
        loads.push((j.memory_gib, j.compute));
        let done = search(jobs, memory_gib, order, k + 1, gpus, loads, best, lower);
        loads.pop();
        gpus.pop();
        if done {
            return true;
        }
    }
    false
}

/// Fails unless `packing` places every job exactly once within every GPU's memory and compute.
pub fn validate(jobs: &[Job], memory_gib: f64, packing: &Packing) -> Result<()> {
    let mut seen = vec![0usize; jobs.len()];
    for (g, on) in packing.gpus.iter().enumerate() {
        ensure!(!on.is_empty(), "gpus[{g}]: an empty GPU is counted");
        let mut load = (0.0, 0.0);
        for &i in on {
            ensure!(i < jobs.len(), "gpus[{g}]: job {i} does not exist");
            seen[i] += 1;
            ensure!(
                fits(load, &jobs[i], memory_gib),
                "gpus[{g}]: job {i} ({}) does not fit: memory {:.1} + {:.1} GiB of {memory_gib}, \
                 compute {:.2} + {:.2}",
                jobs[i].name,
                load.0,
                jobs[i].memory_gib,
                load.1,
                jobs[i].compute
            );
            load.0 += jobs[i].memory_gib;
            load.1 += jobs[i].compute;
        }
    }
    if let Some(i) = seen.iter().position(|&n| n != 1) {
        anyhow::bail!("jobs[{i}]: placed {} times, expected once", seen[i]);
    }
    Ok(())
}

/// Memory and compute used over what the GPUs offer.
pub fn utilisation(jobs: &[Job], memory_gib: f64, gpus: usize) -> (f64, f64) {
    let n = gpus.max(1) as f64;
    (
        jobs.iter().map(|j| j.memory_gib).sum::<f64>() / (n * memory_gib),
        jobs.iter().map(|j| j.compute).sum::<f64>() / n,
    )
}
