//! A model's variables by name: what the optimiser ([`crate::adamw`]) and the checkpoint
//! ([`crate::checkpoint`]) share, so that neither needs the other.

use candle_core::Var;
use candle_nn::VarMap;

/// A model's variables with their names, sorted by name: the order the optimiser and the
/// checkpoint share.
pub type NamedVars = Vec<(String, Var)>;

/// The variables of a `VarMap`, sorted by name (a `VarMap` is a hash map: its own order varies).
pub fn named_vars(varmap: &VarMap) -> NamedVars {
    let data = varmap.data().lock().unwrap_or_else(|p| p.into_inner());
    let mut v: NamedVars = data.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}
