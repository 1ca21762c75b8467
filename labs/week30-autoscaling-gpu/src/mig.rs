//! Fractional GPUs with Multi-Instance GPU (MIG): an A100 or H100 of 80 GB split into isolated
//! instances, each with its own compute slices (7 in all) and memory slices (8 of 10 GB). An
//! instance cannot start anywhere: each profile has its allowed first memory slices
//! (`nvidia-smi mig -lgipp` lists them), which is why two 3g.40gb fit but a 4g.40gb and a
//! 3g.40gb only one way round.

use anyhow::{Result, bail, ensure};
use serde::Serialize;

/// A MIG profile of an 80 GB A100/H100.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Profile {
    pub name: &'static str,
    pub compute_slices: u32,
    pub memory_slices: u32,
    /// The memory slices it may start at.
    pub starts: &'static [u32],
}

/// The profiles, smallest first (NVIDIA's MIG user guide, "Supported MIG Profiles").
pub const PROFILES: [Profile; 6] = [
    Profile {
        name: "1g.10gb",
        compute_slices: 1,
        memory_slices: 1,
        starts: &[0, 1, 2, 3, 4, 5, 6],
    },
    Profile {
        name: "1g.20gb",
        compute_slices: 1,
        memory_slices: 2,
        starts: &[0, 2, 4, 6],
    },
    Profile {
        name: "2g.20gb",
        compute_slices: 2,
        memory_slices: 2,
        starts: &[0, 2, 4],
    },
    Profile {
        name: "3g.40gb",
        compute_slices: 3,
        memory_slices: 4,
        starts: &[0, 4],
    },
    Profile {
        name: "4g.40gb",
        compute_slices: 4,
        memory_slices: 4,
        starts: &[0],
    },
    Profile {
        name: "7g.80gb",
        compute_slices: 7,
        memory_slices: 8,
        starts: &[0],
    },
];

pub const COMPUTE_SLICES: u32 = 7;
pub const MEMORY_SLICES: u32 = 8;
pub const SLICE_GIB: f64 = 10.0;

/// The profile called `name`.
pub fn profile(name: &str) -> Result<Profile> {
    PROFILES
        .iter()
        .find(|p| p.name == name)
        .copied()
        .ok_or_else(|| {
            let names: Vec<_> = PROFILES.iter().map(|p| p.name).collect();
            anyhow::anyhow!(
                "profile: expected one of {}, got {name:?}",
                names.join(", ")
            )
        })
}

/// The smallest profile with at least `memory_gib` and a `compute` share (of the whole GPU).
pub fn smallest_for(memory_gib: f64, compute: f64) -> Result<Profile> {
    ensure!(
        memory_gib.is_finite() && memory_gib > 0.0,
        "memory_gib: expected above 0, got {memory_gib}"
    );
    ensure!(
        compute.is_finite() && compute > 0.0 && compute <= 1.0,
        "compute: expected a share in (0, 1], got {compute}"
    );
    PROFILES
        .iter()
        .find(|p| {
            p.memory_slices as f64 * SLICE_GIB >= memory_gib - 1e-9
                && p.compute_slices as f64 / COMPUTE_SLICES as f64 >= compute - 1e-9
        })
        .copied()
        .ok_or_else(|| {
            anyhow::anyhow!("no MIG profile has {memory_gib} GiB and a compute share of {compute}")
        })
}

/// One GPU's instances: (profile, first memory slice).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MigGpu {
    pub instances: Vec<(Profile, u32)>,
}

impl MigGpu {
    fn compute_used(&self) -> u32 {
        self.instances.iter().map(|(p, _)| p.compute_slices).sum()
    }

    fn occupied(&self, slice: u32) -> bool {
        self.instances
            .iter()
            .any(|(p, s)| (*s..s + p.memory_slices).contains(&slice))
    }

    /// The first start where `p` fits beside the instances already there.
    pub fn place(&self, p: &Profile) -> Option<u32> {
        if self.compute_used() + p.compute_slices > COMPUTE_SLICES {
            return None;
        }
        p.starts
            .iter()
            .copied()
            .find(|&s| (s..s + p.memory_slices).all(|m| m < MEMORY_SLICES && !self.occupied(m)))
    }

    /// Fails unless every instance is at an allowed start, no two overlap, and the compute
    /// slices add up to at most 7.
    pub fn validate(&self) -> Result<()> {
        let mut used = [false; MEMORY_SLICES as usize];
        for (p, s) in &self.instances {
            ensure!(
                p.starts.contains(s),
                "{} cannot start at memory slice {s} (allowed: {:?})",
                p.name,
                p.starts
            );
            for m in *s..s + p.memory_slices {
                if used[m as usize] {
                    bail!(
                        "{} at {s} overlaps another instance at memory slice {m}",
                        p.name
                    );
                }
                used[m as usize] = true;
            }
        }
        ensure!(
            self.compute_used() <= COMPUTE_SLICES,
            "{} compute slices used, of {COMPUTE_SLICES}",
            self.compute_used()
        );
        Ok(())
    }
}

/// Places instances on GPUs: largest profiles first, each on the first GPU where one of its
/// starts is free (first fit decreasing under MIG's placement rules).
pub fn pack(profiles: &[Profile]) -> Vec<MigGpu> {
    let mut order: Vec<&Profile> = profiles.iter().collect();
    order.sort_by(|a, b| {
        (b.memory_slices, b.compute_slices).cmp(&(a.memory_slices, a.compute_slices))
    });
    let mut gpus: Vec<MigGpu> = Vec::new();
    for p in order {
        match gpus
            .iter()
            .enumerate()
            .find_map(|(g, gpu)| gpu.place(p).map(|s| (g, s)))
        {
            Some((g, s)) => gpus[g].instances.push((*p, s)),
            None => {
                let mut gpu = MigGpu::default();
                gpu.instances.push((*p, p.starts[0]));
                gpus.push(gpu);
            }
        }
    }
    gpus
}
