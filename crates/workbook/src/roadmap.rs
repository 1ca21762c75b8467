//! The 52-week roadmap (`roadmap.toml`): its phases and the lab planned for each week.

use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct Roadmap {
    pub phase: Vec<Phase>,
    pub lab: Vec<PlannedLab>,
}

#[derive(Debug, Deserialize)]
pub struct Phase {
    pub number: u32,
    pub title: String,
    pub weeks: [u32; 2],
}

#[derive(Debug, Deserialize)]
pub struct PlannedLab {
    pub package: String,
    pub weeks: [u32; 2],
    pub topics: String,
}

pub fn roadmap() -> Roadmap {
    toml::from_str(include_str!("../roadmap.toml"))
        .expect("roadmap.toml is valid (checked by a test)")
}

/// The phase that holds `week`, if the roadmap has one.
pub fn phase_of(week: u32) -> Option<u32> {
    roadmap()
        .phase
        .iter()
        .find(|p| (p.weeks[0]..=p.weeks[1]).contains(&week))
        .map(|p| p.number)
}
