//! Interleaving: to compare two rankers, show each user one list merged from both and see whose
//! items they pick. Every user compares both rankers at once, so the comparison needs far fewer
//! users than an A/B test, where each user sees only one ranker (Chapelle et al., 2012). This is
//! team-draft interleaving (Radlinski, Kurup and Joachims, 2008).

use serde::Serialize;
use std::collections::HashSet;
use std::hash::Hash;
use wb_core::{MlError, Result};
use wb_data::SplitMix64;

/// Which ranker put an item in the merged list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Team {
    A,
    B,
}

/// A merged list and, for each position, the team that picked it.
#[derive(Debug, Clone, PartialEq)]
pub struct Interleaved<T> {
    pub items: Vec<T>,
    pub teams: Vec<Team>,
}

// ANCHOR: team_draft
/// Team-draft interleaving of two rankings into a list of at most `length` items: like captains
/// picking teams, the team with fewer picks so far (a coin flip from `rng` when equal) adds its
/// highest-ranked item that is not in the list yet. Stops at `length` or when neither ranking
/// has anything new. Fails when a ranking repeats an item.
pub fn team_draft<T: Clone + Eq + Hash>(
    a: &[T],
    b: &[T],
    length: usize,
    rng: &mut SplitMix64,
) -> Result<Interleaved<T>> {
    for (arg, ranking) in [("a", a), ("b", b)] {
        let distinct: HashSet<&T> = ranking.iter().collect();
        if distinct.len() != ranking.len() {
            return Err(MlError::InvalidArgument {
                arg: arg.into(),
                detail: "a ranking must not list an item twice".into(),
            });
        }
    }
    // BEGIN SOLUTION team_draft
    let mut items = Vec::with_capacity(length);
    let mut teams = Vec::with_capacity(length);
    let mut taken: HashSet<T> = HashSet::new();
    let (mut next_a, mut next_b) = (0, 0);
    let (mut picks_a, mut picks_b) = (0, 0);
    while items.len() < length {
        // Skip what the other team already took.
        while next_a < a.len() && taken.contains(&a[next_a]) {
            next_a += 1;
        }
        while next_b < b.len() && taken.contains(&b[next_b]) {
            next_b += 1;
        }
        let (a_left, b_left) = (next_a < a.len(), next_b < b.len());
        if !a_left && !b_left {
            break;
        }
        let a_turn = if !b_left {
            true
        } else if !a_left {
            false
        } else if picks_a != picks_b {
            picks_a < picks_b
        } else {
            rng.next_u64() & 1 == 0
        };
        let item = if a_turn {
            picks_a += 1;
            teams.push(Team::A);
            a[next_a].clone()
        } else {
            picks_b += 1;
            teams.push(Team::B);
            b[next_b].clone()
        };
        taken.insert(item.clone());
        items.push(item);
    }
    Ok(Interleaved { items, teams })
    // END SOLUTION
}
// ANCHOR_END: team_draft

/// The clicks credited to each team; the ranker with more wins the impression, equal is a tie.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Credit {
    pub a: usize,
    pub b: usize,
}

impl Credit {
    /// +1 if A won, −1 if B won, 0 for a tie.
    pub fn preference(&self) -> i32 {
        (self.a > self.b) as i32 - (self.b > self.a) as i32
    }
}

/// Credits each clicked position (0-based) to the team that picked it.
pub fn credit(teams: &[Team], clicked: &[usize]) -> Result<Credit> {
    let mut c = Credit { a: 0, b: 0 };
    for &p in clicked {
        match teams.get(p) {
            Some(Team::A) => c.a += 1,
            Some(Team::B) => c.b += 1,
            None => {
                return Err(MlError::InvalidArgument {
                    arg: "clicked".into(),
                    detail: format!("position {p} is past the list's {} items", teams.len()),
                });
            }
        }
    }
    Ok(c)
}
